"""TPAT's own tests through tpat: every onnx2plugin call of Tencent/TPAT's `tests/test_tpat.py`, converted by
`tpat.onnx2plugin` with the arguments TPAT passes, bundled for `gpu_check` (`tpat conformance --tpat-tests`).

Two steps. `tpat_tests.collect` runs TPAT's test file with only its TensorRT step replaced and records each call
(its model, arguments and inputs); it runs in an interpreter that has TensorFlow and tf2onnx when one is given
(`python`), since four of TPAT's tests build their model with TF 1. Then each recorded call goes through
`tpat.onnx2plugin(model, output, node_names=..., node_types=..., plugin_name_dict=..., dynamic_bs=..., min_bs=...,
max_bs=..., opt_bs=...)` in a worker process (`pool`: a crash costs one call), and each plugin it made becomes a
bundle case in `gpu_check`'s format: the kernels library and meta, the plugin's inputs as TPAT fed the model and
onnxruntime's outputs for the node (`plugin_io`; a case whose tensors exceed `CARRY_LIMIT` carries the model and
its inputs instead, and the GPU machine runs onnxruntime). The tolerance is TPAT's: np.allclose(atol=1e-5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .runner import BUNDLE_FILE, CaseResult

CARRY_LIMIT = 1 << 20  # bytes of plugin inputs + outputs a case carries; above it, the model and its inputs
TPAT_TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}  # test_tpat.py: np.allclose(tf_or_ort, trt, atol=1e-5)
PLUGIN_DOMAIN = "trt.plugins"


@dataclass(frozen=True)
class CallJob:
    folder: str  # the recorded call (tpat_tests.Recorder)
    bundle: str
    cache_dir: str
    arch: tuple[str, ...]
    plugin_library: bool = True  # also the IPluginV3 library, as onnx2plugin builds by default


def collect_calls(test_file: Path, out: Path, python: str | None = None, only: list[str] | None = None) -> dict:
    """Record TPAT's calls into `out` (see `tpat_tests`), in this interpreter or in `python` (one with TF)."""
    test_file, out = Path(test_file).resolve(), Path(out).resolve()
    if python is None:
        from .tpat_tests import collect

        return collect(test_file, out, only)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    # TPAT's TF tests run `python3 -m tf2onnx.convert`: the interpreter with tf2onnx comes first on PATH
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    cmd = [python, "-m", "tpat.conformance.tpat_tests", str(test_file), str(out), *(["--only", *only] if only else [])]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        from ..errors import TpatError

        raise TpatError(f"collecting TPAT's calls with {python} failed (exit {done.returncode}): "
                        f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no message'}",
                        hint="the interpreter needs numpy, onnx and onnxruntime (TensorFlow 2.x and tf2onnx for "
                        "TPAT's TF tests)")
    return json.loads((out / "tests.json").read_text())


def convert_calls(calls: Path, bundle: Path, cache_dir: Path, jobs: int = 2, arch: tuple[str, ...] = ("sm_90",),
                  plugin_library: bool = True, timeout_s: float = 900, progress=None) -> list[CaseResult]:
    """Every recorded call through tpat.onnx2plugin, `jobs` at a time; one result per call, in call order."""
    from .pool import results_by_key

    bundle = Path(bundle).resolve()
    bundle.mkdir(parents=True, exist_ok=True)
    folders = sorted(p for p in Path(calls).iterdir() if (p / "call.json").is_file())
    work = [(f.name, CallJob(str(f), str(bundle), str(cache_dir), tuple(arch), plugin_library)) for f in folders]

    def lost(name: str, why: str) -> CaseResult:
        return CaseResult(name, "?", "?", "crashed", "worker", f"{why} while converting", internal=True, clear=False)

    results = results_by_key(convert_call, work, jobs, timeout_s, lost, progress)
    return [results[f.name] for f in folders]


def convert_call(job: CallJob) -> CaseResult:
    """One call: tpat.onnx2plugin with TPAT's arguments, then its bundle case(s); never raises."""
    folder = Path(job.folder)
    call = json.loads((folder / "call.json").read_text())
    args = call["args"]
    source = folder / "model.onnx"
    op_type = _op_types(source, args)
    result = CaseResult(folder.name, op_type, "?", "failed", stage="convert")
    start = time.perf_counter()
    work = Path(job.bundle) / "_work" / folder.name
    shutil.rmtree(work, ignore_errors=True)
    try:
        from ..api import onnx2plugin
        from ..errors import TpatError

        if call.get("inputs") is None:
            result.error = "TPAT's test stopped between its onnx2plugin call and its TensorRT step"
            return result
        batch = {k: args[k] for k in ("min_bs", "max_bs", "opt_bs") if args.get(k) is not None}
        try:
            converted = onnx2plugin(source, work / "model.tpat.onnx", node_names=args["node_names"],
                                    node_types=args["node_types"], plugin_name_dict=args["plugin_name_dict"],
                                    dynamic_bs=bool(args["dynamic_bs"]), **batch, arch=job.arch,
                                    plugin_dir=work / "trt_plugin", validate="never", cache_dir=job.cache_dir,
                                    kernels_only=not job.plugin_library)
        except TpatError as exc:
            result.error, result.clear = str(exc), True
            return result
        result.stage = "bundle"
        names = _bundle(folder, call, work, converted, Path(job.bundle))
        result.status, result.stage, result.plugin = "built", None, ",".join(names)
        result.dtype = _dtype(Path(job.bundle) / _case_name(folder.name, 0, len(names)))
        result.stages = {k: round(v, 2) for p in converted.plugins for k, v in p.seconds.items()}
    except Exception as exc:  # a bug in tpat: the run goes on, the call says what broke
        result.error = f"internal error: {type(exc).__name__}: {exc}"
        result.internal, result.clear, result.traceback = True, False, traceback.format_exc()
    finally:
        result.seconds = round(time.perf_counter() - start, 2)
        shutil.rmtree(work, ignore_errors=True)
    return result


def _op_types(source: Path, args: dict) -> str:
    import onnx

    model = onnx.load(str(source), load_external_data=False)
    wanted = set(args["node_names"] or []) | set(args["plugin_name_dict"] or {})
    types = [n.op_type for n in model.graph.node if n.name in wanted or n.op_type in (args["node_types"] or [])]
    return ",".join(dict.fromkeys(types)) or "?"


def _case_name(call: str, k: int, n: int) -> str:
    return call if n == 1 else f"{call}.{k}"


def _dtype(case: Path) -> str:
    meta = case / "case" / "case.json"
    if meta.is_file():
        entries = json.loads(meta.read_text())["inputs"] or json.loads(meta.read_text())["outputs"]
        return entries[0]["dtype"] if entries else "?"
    deferred = json.loads((case / "case" / "deferred.json").read_text())
    return deferred.get("dtype", "?")


def _bundle(folder: Path, call: dict, work: Path, converted, bundle: Path) -> list[str]:
    """A case per plugin: kernels library + meta, the plugin's inputs and onnxruntime's outputs (module doc)."""
    import numpy as np
    import onnx

    from ..layout import PluginLayout
    from .plugin_io import DEFERRED, read_tensor, write_reference, write_tensor

    source = onnx.load(str(folder / "model.onnx"))
    rewritten = onnx.load(str(work / "model.tpat.onnx"))
    graph_inputs = [read_tensor(folder / f"graph_input_{i}.pb") for i in range(call["inputs"])]
    names = []
    for k, p in enumerate(converted.plugins):
        case = bundle / _case_name(folder.name, k, len(converted.plugins))
        shutil.rmtree(case, ignore_errors=True)
        src, dst = PluginLayout(work / "trt_plugin"), PluginLayout(case / "trt_plugin")
        for role in ("kernels_library", "meta"):
            dst.path(p.plugin, role).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src.path(p.plugin, role), dst.path(p.plugin, role))
        inputs, outputs = plugin_wiring(source, rewritten, p.plugin)
        meta = {"name": case.name, "node": p.node_name, "op_type": p.op_type, "test": call["test"],
                "args": call["args"], **TPAT_TOLERANCE}
        data = case / "case"
        data.mkdir(parents=True)
        size = _io_bytes(source, graph_inputs, inputs, outputs)
        if size <= CARRY_LIMIT:
            write_reference(data, source, graph_inputs, inputs, outputs, meta)
        else:
            onnx.save(source, str(data / "source.onnx"))
            for i, value in enumerate(graph_inputs):
                write_tensor(data / f"graph_input_{i}.pb", np.asarray(value), f"graph_input_{i}")
            (data / DEFERRED).write_text(json.dumps({
                "model": "source.onnx", "graph_inputs": [f"graph_input_{i}.pb" for i in range(len(graph_inputs))],
                "inputs": inputs, "outputs": outputs, "meta": meta, "bytes": size,
                "dtype": str(graph_inputs[0].dtype) if graph_inputs else "?"}, indent=1))
        wiring = {"case": case.name, "op_type": p.op_type, "plugin": p.plugin, "policy": "keep", "inputs": inputs,
                  "outputs": outputs, "test": call["test"], "args": call["args"]}
        (case / BUNDLE_FILE).write_text(json.dumps(wiring, indent=1, sort_keys=True))
        names.append(p.plugin)
    return names


def _io_bytes(model, graph_inputs, inputs: list[str], outputs: list[str]) -> int:
    """Bytes of the plugin's tensors, from shapes onnx infers (unknown: counted as too large to carry)."""
    import numpy as np
    from onnx import helper, shape_inference

    feeds = dict(zip([vi.name for vi in model.graph.input], graph_inputs))
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - no inference: computed where checked
        return CARRY_LIMIT + 1
    infos = {vi.name: vi for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)}
    infos.update({i.name: helper.make_tensor_value_info(i.name, i.data_type, i.dims) for i in model.graph.initializer})
    total = 0
    for name in (*inputs, *outputs):
        if name in feeds:
            total += np.asarray(feeds[name]).nbytes
            continue
        tt = infos[name].type.tensor_type if name in infos else None
        if tt is None or not all(d.HasField("dim_value") for d in tt.shape.dim):
            return CARRY_LIMIT + 1
        item = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type)).itemsize
        total += item * int(np.prod([d.dim_value for d in tt.shape.dim], dtype=np.int64))
    return total


def plugin_wiring(source, rewritten, plugin: str) -> tuple[list[str], list[str]]:
    """The tensors of the source model the plugin node reads and writes, in its order (through the Casts a dtype
    policy puts around it)."""
    node = next(n for n in rewritten.graph.node if n.op_type == plugin and n.domain == PLUGIN_DOMAIN)
    known = {vi.name for vi in source.graph.input} | {i.name for i in source.graph.initializer}
    known |= {o for n in source.graph.node for o in n.output}
    producer = {o: n for n in rewritten.graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in rewritten.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def back(name: str) -> str:
        while name not in known and name in producer and producer[name].op_type == "Cast":
            name = producer[name].input[0]
        return name

    def forward(name: str) -> str:
        while name not in known:
            casts = [c for c in consumers.get(name, []) if c.op_type == "Cast"]
            if not casts:
                break
            name = casts[0].output[0]
        return name

    return [back(i) for i in node.input if i], [forward(o) for o in node.output if o]


def write_report(bundle: Path, results: list[CaseResult], collected: dict, meta: dict) -> dict:
    """bundle/report.json in the conformance report's shape (`tpat conformance --gpu` reads it), plus TPAT's
    tests and what happened to them."""
    report = {"meta": {**meta, "tpat_tests": collected["test_file"], "tensorflow": collected.get("tensorflow")},
              "tests": collected["tests"], "cases": [r.to_json() for r in results]}
    from ..fsutil import atomic_write_text

    atomic_write_text(Path(bundle) / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report
