"""The cases: ONNX's node test suite, generated from the installed onnx package, pinned by a fixed numpy seed.

The onnx wheel ships the generators (`onnx.backend.test.case.node`), not the data, so the cases are generated
here, once per onnx version, into a cache folder (never committed, nothing fetched): per case `model.onnx`, its
inputs and expected outputs as TensorProto files (`input_<i>.pb`, `output_<i>.pb`, ONNX's own format) and
`case.json`. The `_expanded` variants (the op's function body, many nodes) are left out: tpat converts nodes.

As real models have them, the inputs that describe structure rather than data (a Reshape's shape, a Slice's axes,
a Resize's sizes, quantization scales) are initializers of the model, not values fed at run time: the suite feeds
them as inputs only because a test runner must feed something. Which inputs those are is one table
(`CONSTANT_INPUTS`), by the op schema's name for the input.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

SEED = 0
GENERATOR = 2  # bump when what is written per case changes: the cache folder is then regenerated
INDEX = "index.json"

# Inputs real models carry as constants: shapes, axes, sizes and the like (structure), scalar parameters that were
# attributes before an opset turned them into inputs, and per-tensor quantization parameters. By the name the op
# schema gives the input; (op, name) where a name means data for another op.
CONSTANT_INPUTS = frozenset({
    "shape", "axes", "pads", "sizes", "scales", "roi", "repeats", "starts", "ends", "steps", "split", "depth",
    "axis", "K", "k", "constant_value", "ratio", "training_mode", "output_shape", "dft_length", "frame_step",
    "frame_length", "image_shape", "block_shape", "max_output_boxes_per_class", "iou_threshold", "score_threshold",
    "num_mel_bins", "sample_rate", "lower_edge_hertz", "upper_edge_hertz", "x_scale", "x_zero_point", "y_scale",
    "y_zero_point", "a_scale", "a_zero_point", "b_scale", "b_zero_point", "w_scale", "w_zero_point",
    ("Clip", "min"), ("Clip", "max"), ("OneHot", "values"), ("Range", "start"), ("Range", "limit"),
    ("Range", "delta"), ("ConstantOfShape", "input"), ("AffineGrid", "size"), ("BlackmanWindow", "size"),
    ("HannWindow", "size"), ("HammingWindow", "size"),
})


def is_constant_input(op_type: str, formal: str) -> bool:
    return formal in CONSTANT_INPUTS or (op_type, formal) in CONSTANT_INPUTS


@dataclass(frozen=True)
class Case:
    """One generated case, as stored: `folder` holds model.onnx, input_<i>.pb, output_<i>.pb and case.json."""

    folder: Path
    meta: dict = field(repr=False, hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def op_type(self) -> str:
        return self.meta["op_type"]

    @property
    def dtype(self) -> str:
        """The case's data type for the report: of its first runtime input, else of its first output."""
        return self.meta["dtype"]

    @property
    def skip(self) -> str | None:
        """Why no tpat plugin can be made from this case at all (sequence or string types), or None."""
        return self.meta.get("skip")

    @property
    def model_path(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def node_name(self) -> str:
        return self.meta["node"]

    @property
    def multi_output(self) -> bool:
        return len(self.meta["outputs"]) > 1

    def inputs(self) -> dict[str, np.ndarray]:
        """The runtime inputs by graph input name (constants are in the model)."""
        return {t["name"]: _read(self.folder / f"input_{i}.pb") for i, t in enumerate(self.meta["inputs"])}

    def outputs(self) -> dict[str, np.ndarray]:
        return {t["name"]: _read(self.folder / f"output_{i}.pb") for i, t in enumerate(self.meta["outputs"])}

    @cached_property
    def tolerance(self) -> tuple[float, float]:
        return float(self.meta["rtol"]), float(self.meta["atol"])


def _read(path: Path) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(t)


def cases_dir(cache_root: Path) -> Path:
    return Path(cache_root) / "conformance" / f"onnx-{onnx.__version__}-seed{SEED}-g{GENERATOR}"


def load_cases(cache_root: Path) -> list[Case]:
    """Every case of the installed onnx's node suite, generated on first use, in name order."""
    root = cases_dir(cache_root)
    if not (root / INDEX).is_file():
        generate(root)
    index = json.loads((root / INDEX).read_text())
    return [Case(root / name, json.loads((root / name / "case.json").read_text())) for name in index["cases"]]


def generate(root: Path) -> None:
    """Write every case under `root` (a temp folder renamed into place: readers never see half a suite)."""
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    np.random.seed(SEED)  # the generators draw from numpy's global RNG; onnx reseeds it before each export too
    with warnings.catch_warnings():  # the generators overflow casts on purpose
        warnings.simplefilter("ignore")
        suite = [c for c in collect_testcases() if "_expanded" not in c.name]
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    names = []
    for test in sorted(suite, key=lambda c: c.name):
        inputs, outputs = test.data_sets[0]
        write_case(tmp / test.name, test.name, test.model, list(inputs), list(outputs), test.rtol, test.atol)
        names.append(test.name)
    (tmp / INDEX).write_text(json.dumps({"onnx": onnx.__version__, "seed": SEED, "generator": GENERATOR,
                                         "cases": names}, indent=1))
    try:
        os.replace(tmp, root)
    except OSError:  # another process generated it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def write_case(folder: Path, name: str, model: onnx.ModelProto, inputs: list, outputs: list, rtol: float,
               atol: float) -> None:
    """One case: the node named `name`, structure inputs made initializers, data as TensorProto files."""
    folder.mkdir(parents=True)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    node = m.graph.node[0]
    node.name = name
    meta = {"name": name, "node": name, "op_type": node.op_type, "domain": node.domain,
            "opset": next((o.version for o in m.opset_import if o.domain == node.domain), None),
            "rtol": rtol, "atol": atol, "constants": [], "inputs": [], "outputs": []}
    skip = _not_tensors(m, inputs, outputs) or _random(node, m, inputs)
    meta["dtype"] = _main_dtype(m)
    if skip:
        meta["skip"] = skip
        (folder / "case.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        return
    values = dict(zip([i.name for i in m.graph.input], inputs))
    constant = _constant_inputs(node, m)
    kept = [vi for vi in m.graph.input if vi.name not in constant]
    for vi in m.graph.input:
        if vi.name in constant:
            m.graph.initializer.append(_tensor(values[vi.name], vi.name))
            meta["constants"].append(vi.name)
    del m.graph.input[:]
    m.graph.input.extend(kept)
    onnx.save(m, str(folder / "model.onnx"))
    for i, vi in enumerate(kept):
        (folder / f"input_{i}.pb").write_bytes(_tensor(values[vi.name], vi.name).SerializeToString())
        meta["inputs"].append(_describe(vi))
    for i, (vi, value) in enumerate(zip(m.graph.output, outputs)):
        (folder / f"output_{i}.pb").write_bytes(_tensor(value, vi.name).SerializeToString())
        meta["outputs"].append(_describe(vi))
    (folder / "case.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def _tensor(value, name: str) -> onnx.TensorProto:
    if isinstance(value, onnx.TensorProto):
        t = onnx.TensorProto()
        t.CopyFrom(value)
        t.name = name
        return t
    return numpy_helper.from_array(np.asarray(value), name)


def _describe(vi: onnx.ValueInfoProto) -> dict:
    tt = vi.type.tensor_type
    return {"name": vi.name, "dtype": onnx.TensorProto.DataType.Name(tt.elem_type).lower(),
            "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tt.shape.dim]}


def _not_tensors(m: onnx.ModelProto, inputs: list, outputs: list) -> str | None:
    """Why a case is outside what a TensorRT plugin can carry (sequences, optionals, maps, strings), or None."""
    for vi in (*m.graph.input, *m.graph.output):
        kind = vi.type.WhichOneof("value")
        if kind != "tensor_type":
            return f"{vi.name!r} is a {kind.replace('_type', '')}: TensorRT plugins carry tensors only"
        if vi.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            return f"{vi.name!r} is a string tensor: TensorRT has no string type"
    if any(v is None for v in (*inputs, *outputs)):
        return "an input or output is absent (optional type)"
    return None


RANDOM = "random output: "  # how the reason of a case whose expected outputs no implementation can reproduce starts


def _random(node: onnx.NodeProto, m: onnx.ModelProto, inputs: list) -> str | None:
    """Why a case's expected outputs are one random draw that no implementation is bound to reproduce, or None.

    ONNX's generators draw them from numpy's Mersenne Twister (`RandomState(seed)`); the op's spec says only
    that the output is random, the seed being a hint, and leaves the random stream to the implementation
    (onnxruntime's outputs differ from them too). Bernoulli is random always, Dropout in training mode with a
    nonzero ratio (its other cases are deterministic and stay)."""
    why = RANDOM + f"{node.op_type} draws from numpy's RandomState; ONNX leaves the random stream to the " \
                   "implementation"
    if node.op_type == "Bernoulli":
        return why
    if node.op_type != "Dropout":
        return None
    values = dict(zip([i.name for i in m.graph.input], inputs))
    values.update({t.name: numpy_helper.to_array(t) for t in m.graph.initializer})
    given = [np.asarray(values[n]) if n in values else None for n in node.input]
    ratio = given[1] if len(given) > 1 and given[1] is not None else np.float32(0.5)
    training = given[2] if len(given) > 2 and given[2] is not None else np.bool_(False)
    return why if bool(np.asarray(training).reshape(-1)[0]) and float(np.asarray(ratio).reshape(-1)[0]) else None


def _main_dtype(m: onnx.ModelProto) -> str:
    vis = [*m.graph.input, *m.graph.output]
    for vi in vis:
        if vi.type.WhichOneof("value") == "tensor_type":
            return onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type).lower()
    return "other"


def _constant_inputs(node: onnx.NodeProto, m: onnx.ModelProto) -> set[str]:
    """Graph inputs feeding a structure input of the node (see CONSTANT_INPUTS)."""
    opset = next((o.version for o in m.opset_import if o.domain == node.domain), None)
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:  # an op this onnx build has no schema for: keep every input
        return set()
    formals = [p.name for p in schema.inputs]
    graph_inputs = {vi.name for vi in m.graph.input}
    chosen = set()
    for position, name in enumerate(node.input):
        if not name or name not in graph_inputs or not formals:
            continue
        formal = formals[min(position, len(formals) - 1)]
        if is_constant_input(node.op_type, formal):
            chosen.add(name)
    return chosen


def select(cases: list[Case], ops: list[str] | None = None, sample: int | None = None) -> list[Case]:
    """The cases of `ops` (all when None); with `sample`, a fixed spread of that many: one case of every op type in
    turn (each op's cases ordered so that its dtypes alternate), so a sample covers op types and dtypes first."""
    if ops:
        wanted = {o.lower() for o in ops}
        unknown = wanted - {c.op_type.lower() for c in cases}
        if unknown:
            from ..errors import TpatError

            raise TpatError(f"no conformance case of op type(s) {sorted(unknown)} in onnx {onnx.__version__}",
                            hint="op types are spelled as in ONNX, e.g. Relu, LayerNormalization")
        cases = [c for c in cases if c.op_type.lower() in wanted]
    if sample is None or sample >= len(cases):
        return cases
    queues = {}
    for c in cases:
        queues.setdefault(c.op_type, []).append(c)
    queues = {op: _dtype_spread(q) for op, q in sorted(queues.items())}
    chosen: list[Case] = []
    while len(chosen) < sample:
        for op in list(queues):
            if len(chosen) == sample:
                break
            chosen.append(queues[op].pop(0))
            if not queues[op]:
                del queues[op]
    return sorted(chosen, key=lambda c: c.name)


def _dtype_spread(cases: list[Case]) -> list[Case]:
    """Cases reordered round-robin over their dtypes (first case of each dtype, then the second...)."""
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.dtype, []).append(c)
    order = []
    while groups:
        for d in list(groups):
            order.append(groups[d].pop(0))
            if not groups[d]:
                del groups[d]
    return order
