"""What a plugin node reads and writes inside its model, by onnxruntime: the reference a plugin's kernels are
checked against when the node is not the whole model (TPAT's TF-built tests convert one node of a larger graph).

Needs numpy, onnx and onnxruntime only (it runs on the GPU machine too). The model's graph inputs get the values a
test feeds (in graph-input order, initializers excluded: TensorRT's binding order); initializers are read from the
model; every other tensor is asked of onnxruntime, with graph optimizations off, as an extra graph output.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

DEFERRED = "deferred.json"  # a case whose plugin inputs and outputs are computed where it is checked (too large)


def runtime_inputs(model: onnx.ModelProto) -> list[str]:
    init = {i.name for i in model.graph.initializer}
    return [vi.name for vi in model.graph.input if vi.name not in init]


def tensor_values(model: onnx.ModelProto, graph_inputs: list[np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """The values of `names` when `model` runs on `graph_inputs`."""
    feeds = dict(zip(runtime_inputs(model), graph_inputs))
    init = {i.name: i for i in model.graph.initializer}
    values = {n: feeds[n] for n in names if n in feeds}
    values.update({n: numpy_helper.to_array(init[n]) for n in names if n in init and n not in values})
    wanted = [n for n in dict.fromkeys(names) if n not in values]
    if wanted:
        import onnxruntime as ort

        m = onnx.ModelProto()
        m.CopyFrom(model)
        present = {o.name for o in m.graph.output}
        m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in wanted if n not in present)
        from ..graph.ort_reference import session_options

        options = session_options(m, graph_optimization_level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        session = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values.update(zip(wanted, session.run(wanted, feeds)))
    return values


def write_tensor(path: Path, value: np.ndarray, name: str) -> None:
    path.write_bytes(numpy_helper.from_array(np.asarray(value), name).SerializeToString())


def read_tensor(path: Path) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(Path(path).read_bytes())
    return numpy_helper.to_array(t)


def write_reference(data: Path, model: onnx.ModelProto, graph_inputs: list[np.ndarray], inputs: list[str],
                    outputs: list[str], meta: dict) -> None:
    """The plugin's inputs and onnxruntime's outputs as `gpu_check` reads a case (`case.json`, `input_<i>.pb`,
    `output_<i>.pb`, and a `model.onnx` with no initializers: every plugin input is a file)."""
    values = tensor_values(model, graph_inputs, [*inputs, *outputs])
    meta = dict(meta, inputs=[], outputs=[])
    for key, names in (("input", inputs), ("output", outputs)):
        for i, name in enumerate(names):
            value = np.asarray(values[name])
            write_tensor(data / f"{key}_{i}.pb", value, name)
            meta[f"{key}s"].append({"name": name, "dtype": str(value.dtype), "shape": list(value.shape)})
    empty = onnx.helper.make_model(onnx.helper.make_graph([], "plugin_io", [], []))
    onnx.save(empty, str(data / "model.onnx"))
    (data / "case.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def materialized(data: Path) -> Path:
    """A deferred case's data (`deferred.json`: the source model, its graph inputs, the plugin's tensor names)
    made into what `gpu_check` reads, in a temporary folder (the caller removes it)."""
    spec = json.loads((data / DEFERRED).read_text())
    model = onnx.load(str(data / spec["model"]))
    graph_inputs = [read_tensor(data / f) for f in spec["graph_inputs"]]
    out = Path(tempfile.mkdtemp(prefix="tpat_case_"))
    try:
        write_reference(out, model, graph_inputs, spec["inputs"], spec["outputs"], spec["meta"])
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
