"""GPU mode: each bundled case's kernels library run on the case's inputs, compared with its expected outputs.

Needs numpy, onnx and the CUDA runtime only (no TVM, no TensorRT, no pydantic): the bundle was built on a CPU
machine. The plugin computes what the rewritten model's plugin node computes: its inputs are the case's graph
inputs (or the model's large initializers) in the plugin's order, cast as the rewrite casts them (a double case
runs in float32 between Casts), and its outputs, cast back, are compared with the outputs ONNX's suite expects.

Tolerance: the suite's own (rtol 1e-3, atol 1e-7 for most cases) widened to tpat's validation tolerance of the
plugin's dtype (|got - want| <= atol + rtol * |want|); integers and bools must match exactly, NaN matches NaN.
A case too large to carry (`plugin_io.DEFERRED`) has its inputs and expected outputs computed here by onnxruntime.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..layout import PluginLayout
from .runner import BUNDLE_FILE

TOLERANCES = {"float32": (1e-5, 1e-5), "float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2)}


@dataclass
class GpuResult:
    case: str
    passed: bool
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    detail: str = ""
    restart_worker: bool = False  # a CUDA error spoils the process's context: the pool replaces the worker

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v != "" and k != "restart_worker"}


def bundled_cases(bundle: Path) -> list[str]:
    return sorted(p.parent.name for p in Path(bundle).glob(f"*/{BUNDLE_FILE}"))


def check_case(folder: str) -> GpuResult:
    """Run one bundled case; a CUDA or loading problem is a failed case, with the reason."""
    folder = Path(folder)
    wiring = json.loads((folder / BUNDLE_FILE).read_text())
    try:
        return _check(folder, wiring)
    except Exception as exc:  # noqa: BLE001 - every case gets a verdict; the reason says what broke
        from ..gpu.cudart import CudaError

        return GpuResult(wiring["case"], False, float("inf"), float("inf"), f"{type(exc).__name__}: {exc}",
                         restart_worker=isinstance(exc, CudaError))


def _check(folder: Path, wiring: dict) -> GpuResult:
    from .plugin_io import DEFERRED, materialized

    data = folder / "case"
    if not (data / DEFERRED).is_file():
        return _check_data(folder, wiring, data)
    data = materialized(data)  # too large to carry: onnxruntime computes the plugin's inputs and outputs here
    try:
        return _check_data(folder, wiring, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _check_data(folder: Path, wiring: dict, data: Path) -> GpuResult:
    from ..gpu.kernels_lib import ERR_CUDA, STATUS, KernelsLibrary
    from ..ir.signature import Signature

    layout = PluginLayout(folder / "trt_plugin")
    plugin = wiring["plugin"]
    sig = Signature.from_json(json.loads(layout.path(plugin, "meta").read_text())["signature"])
    meta = json.loads((data / "case.json").read_text())
    values = {t["name"]: _read(data / f"input_{i}.pb") for i, t in enumerate(meta["inputs"])}
    model = onnx.load(str(data / "model.onnx"))
    for init in model.graph.initializer:  # a large constant is a plugin input, fed from the model
        values.setdefault(init.name, numpy_helper.to_array(init))
    expected = [_read(data / f"output_{i}.pb") for i in range(len(meta["outputs"]))]
    inputs = [to_device(values[name], t.dtype.name) for name, t in zip(wiring["inputs"], sig.inputs)]
    outs = [np.empty(t.concrete_shape([]), dtype=_device_dtype(t.dtype.name)) for t in sig.outputs]
    lib = KernelsLibrary(layout.path(plugin, "kernels_library"), plugin)
    try:
        status = lib.run(inputs, outs, [])
    finally:
        lib.close()
    if status != 0:
        return GpuResult(wiring["case"], False, float("inf"), float("inf"),
                         f"launch returned {STATUS.get(status, status)}", restart_worker=status == ERR_CUDA)
    by_name = dict(zip([o["name"] for o in meta["outputs"]], expected))
    worst_abs, worst_rel, detail = 0.0, 0.0, ""
    rtol, atol = float(meta["rtol"]), float(meta["atol"])
    for got, t, name in zip(outs, sig.outputs, wiring["outputs"]):
        want = by_name[name]
        a, r, ok = compare(from_device(got, t.dtype.name), want, t.dtype.name, rtol, atol)
        worst_abs, worst_rel = max(worst_abs, a), max(worst_rel, r)
        if not ok and not detail:
            detail = f"output {name!r} differs" if got.shape == want.shape else \
                f"output {name!r} has shape {list(got.shape)}, expected {list(want.shape)}"
    return GpuResult(wiring["case"], not detail, worst_abs, worst_rel, detail)


def compare(got: np.ndarray, want: np.ndarray, dtype: str, rtol: float, atol: float) -> tuple[float, float, bool]:
    """(max abs error, max rel error, within tolerance); see the module doc for the rule."""
    if got.shape != want.shape:
        return float("inf"), float("inf"), False
    if got.size == 0:
        return 0.0, 0.0, True
    if dtype not in TOLERANCES:
        g, w = got.astype(np.float64), np.asarray(want).astype(np.float64)
        diff = np.abs(g - w)
        return float(diff.max()), float(0 if np.array_equal(g, w) else 1), bool(np.array_equal(g, w))
    rt, at = TOLERANCES[dtype]
    rtol, atol = max(rtol, rt), max(atol, at)
    g, w = got.astype(np.float64), np.asarray(want, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: handled as a match below
        both_nan = np.isnan(g) & np.isnan(w)
        same_inf = np.isinf(w) & (g == w)
        diff = np.where(both_nan | same_inf, 0.0, np.abs(g - w))
        diff = np.nan_to_num(diff, nan=np.inf)
        finite_w = np.abs(np.nan_to_num(w, posinf=0.0, neginf=0.0))
        rel = diff / np.maximum(finite_w, atol)
        ok = bool(np.all(diff <= atol + rtol * finite_w))
    return float(diff.max()), float(rel.max()), ok


def to_device(values: np.ndarray, dtype: str) -> np.ndarray:
    """The bytes the plugin takes: its dtype (a double case's float32), bfloat16 as uint16 bit patterns."""
    values = np.asarray(values)
    if dtype == "bfloat16":
        if values.dtype.name == "bfloat16":
            return np.ascontiguousarray(values).view(np.uint16)
        from ..graph.dtype_policy import float32_to_bf16_bits

        return float32_to_bf16_bits(values.astype(np.float32))
    return np.ascontiguousarray(values.astype(np.dtype(dtype)))


def from_device(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        from ..graph.dtype_policy import bf16_bits_to_float32

        return bf16_bits_to_float32(values)
    return values


def _device_dtype(name: str):
    return np.dtype("uint16" if name == "bfloat16" else name)


def _read(path: Path) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(t)


def check_bundle(bundle: Path, names: list[str] | None = None, jobs: int = 4, timeout_s: float = 120,
                 progress=None) -> dict[str, GpuResult]:
    """Every bundled case (or `names`), each in a worker process: a kernel that faults poisons only its own CUDA
    context, and a worker that dies is replaced."""
    from .pool import results_by_key

    names = names if names is not None else bundled_cases(bundle)
    items = [(n, str(Path(bundle) / n)) for n in names]
    results = results_by_key(check_case, items, jobs, timeout_s,
                             lambda n, why: GpuResult(n, False, float("inf"), float("inf"), why), progress)
    return {n: results[n] for n in names}


def as_json(results: dict[str, GpuResult]) -> dict:
    return {n: r.to_json() for n, r in results.items()}
