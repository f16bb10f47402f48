"""Validate: run the generated kernels on a GPU through their C ABI and compare with onnxruntime.

Runs at each dim setting (min, opt, max and an odd value in between), on fresh random inputs that are valid for
the op (see `inputs`), with poisoned output buffers, and checks that dims outside the declared range are refused
with an error code (TPAT silently computed nothing there). A plugin is marked valid only if every check passes.
Needs no TVM and no TensorRT: only numpy, onnx, onnxruntime and the CUDA runtime.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx

from ..ir.signature import Signature
from ..graph.op_inputs import make_inputs

log = logging.getLogger(__name__)
TOLERANCES = {"float32": (1e-5, 1e-5), "float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2)}
SPEC_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}  # spellings of the spec's `tolerance:`
ODD_DIM = 7


@dataclass
class PointResult:
    label: str
    dims: list[int]
    status: int
    max_abs_err: float
    max_rel_err: float
    passed: bool
    detail: str = ""


@dataclass
class RangeCheck:
    dims: list[int]
    status: int
    refused: bool


@dataclass
class ValidationReport:
    plugin: str
    points: list[PointResult] = field(default_factory=list)
    range_checks: list[RangeCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.points) and all(p.passed for p in self.points) and all(r.refused for r in self.range_checks)

    def to_json(self) -> dict:
        return {"plugin": self.plugin, "passed": self.passed, "points": [asdict(p) for p in self.points],
                "range_checks": [asdict(r) for r in self.range_checks]}

    def summary(self) -> str:
        worst = max((p.max_abs_err for p in self.points), default=0.0)
        pts = ", ".join(f"{p.label}{p.dims}" for p in self.points)
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.plugin}: {len(self.points)} points ({pts}), max abs err {worst:.3g}"


def run(p, workdir: Path, upstream) -> dict:
    """The validate task: the built kernels library against onnxruntime on this machine's GPU; report.json."""
    import json

    from ..lowering.lowered import read_lowered

    lowered = read_lowered(upstream.entries["lower"])
    from ..layout import file_names

    lib = Path(upstream.entries["build"]) / file_names(p.name)["kernels_library"]
    reference = onnx.load_from_string(p.reference) if p.reference else None
    report = validate(p.name, lib, onnx.load_from_string(p.subgraph), lowered.signature,
                      tolerances=dict(p.tolerance), reference_model=reference)
    (workdir / "report.json").write_text(json.dumps(report.to_json(), indent=1, sort_keys=True))
    log.info("validate %s: %s", p.name, report.summary())
    return {"passed": report.passed}


def default_points(sig: Signature, extra: Sequence[int] = (ODD_DIM,)) -> list[tuple[str, list[int]]]:
    if not sig.dims:
        return [("static", [])]
    points = [(k, [getattr(d, k) for d in sig.dims]) for k in ("min", "opt", "max")]
    for value in extra:
        dims = [min(max(value, d.min), d.max) for d in sig.dims]
        if all(dims != p for _, p in points):
            points.append(("odd", dims))
    seen, unique = set(), []
    for label, dims in points:
        if tuple(dims) not in seen:
            seen.add(tuple(dims))
            unique.append((label, dims))
    return unique


def out_of_range_points(sig: Signature) -> list[list[int]]:
    checks = []
    for i, d in enumerate(sig.dims):
        for bad in (d.max + 1, d.min - 1):
            if bad < 0:
                continue
            dims = [x.opt for x in sig.dims]
            dims[i] = bad
            checks.append(dims)
    return checks


def reference(subgraph: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    from ..graph.ort_reference import session_options

    sess = ort.InferenceSession(subgraph.SerializeToString(), session_options(subgraph),
                                providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(sess.get_inputs(), inputs)}
    return sess.run(None, feeds)


def compare(out: np.ndarray, ref: np.ndarray, dtype: str, tolerances=None) -> tuple[float, float, bool]:
    tolerances = tolerances or TOLERANCES
    if out.shape != ref.shape:
        return float("inf"), float("inf"), False
    if dtype not in tolerances:
        equal = np.array_equal(out, ref)
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        return float(diff.max(initial=0)), float(0 if equal else 1), bool(equal)
    rtol, atol = tolerances[dtype]
    o, r = out.astype(np.float64), ref.astype(np.float64)
    diff = np.abs(o - r)
    diff = np.where(np.isnan(o) & np.isnan(r), 0.0, diff)
    rel = diff / np.maximum(np.abs(r), atol)
    ok = bool(np.allclose(o, r, rtol=rtol, atol=atol, equal_nan=True))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0)), float(np.nan_to_num(rel, nan=np.inf).max(initial=0)), ok


SUMS = ("CumSum", "ReduceSum", "ReduceMean")


def summed_terms(subgraph: onnx.ModelProto, shapes: dict) -> int:
    """The most terms one output element of a sum in `subgraph` adds (CumSum along its axis, ReduceSum/ReduceMean
    over their axes), read from the concrete `shapes` of the graph inputs; 1 where there is none or it is unknown.

    A float sum's rounding depends on its order, which neither ONNX nor onnxruntime fixes: a kernel that adds in
    parallel differs from onnxruntime's sequential loop by about eps * sqrt(terms) * the partial sums' size, and on
    an output near zero (a running sum crossing zero) that is an absolute error no relative tolerance covers."""
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in subgraph.graph.initializer}
    most = 1
    for node in subgraph.graph.node:
        if node.op_type not in SUMS or not node.input or node.input[0] not in shapes:
            continue
        shape = shapes[node.input[0]]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "CumSum":
            axes = [int(consts[node.input[1]])] if len(node.input) > 1 and node.input[1] in consts else None
        elif len(node.input) > 1 and node.input[1] in consts:
            axes = [int(a) for a in np.atleast_1d(consts[node.input[1]])]
        else:
            axes = list(attrs.get("axes", range(len(shape))))
        if axes is None:
            continue
        most = max(most, int(np.prod([shape[a] for a in axes], dtype=np.int64)) if shape else 1)
    return most


def sum_tolerances(tol: dict, terms: int) -> dict:
    """`tol` with each float dtype's atol scaled by sqrt(terms) (see `summed_terms`)."""
    if terms <= 1:
        return tol
    return {k: (rtol, atol * float(np.sqrt(terms))) for k, (rtol, atol) in tol.items()}


def validate(plugin: str, kernels_so: str | Path, subgraph: onnx.ModelProto, sig: Signature,
             points: Sequence[tuple[str, list[int]]] | None = None, seed: int = 0,
             tolerances: dict | None = None, reference_model: onnx.ModelProto | None = None) -> ValidationReport:
    """`tolerances`: {dtype: (rtol, atol)}, dtype spelled as numpy or as the spec does (fp32/fp16/bf16).

    `reference_model`: the node at the model's own precision when the plugin computes in another one (dtype
    policy); onnxruntime runs it on the plugin's inputs upcast, and the plugin's dtype sets the tolerance.
    bfloat16 nodes without one are checked against the node converted to float32 (onnxruntime has few bf16 ops).
    """
    from ..gpu.kernels_lib import ERR_DIMS, STATUS, KernelsLibrary

    tol = dict(TOLERANCES)
    tol.update({SPEC_DTYPES.get(k, k): tuple(v) for k, v in (tolerances or {}).items()})
    reference_model = reference_for(subgraph, sig, reference_model)
    lib = KernelsLibrary(kernels_so, plugin)
    report = ValidationReport(plugin)
    try:
        for n, (label, dims) in enumerate(points or default_points(sig)):
            shapes = [t.concrete_shape(dims) for t in sig.inputs]
            values = make_inputs(subgraph, shapes, [t.dtype.name for t in sig.inputs], seed + n)
            plugin_inputs = [to_device_dtype(v, t.dtype.name) for v, t in zip(values, sig.inputs)]
            refs = reference_outputs(reference_model, sig, plugin_inputs)
            point_tol = sum_tolerances(tol, summed_terms(subgraph, {i.name: v.shape for i, v in
                                                                    zip(subgraph.graph.input, values)}))
            outs = [np.empty(t.concrete_shape(dims), dtype=_np_dtype(t.dtype.name)) for t in sig.outputs]
            status = lib.run(plugin_inputs, outs, dims)
            errs, ok, detail = [], status == 0, "" if status == 0 else f"launch returned {STATUS.get(status, status)}"
            for o, r, t in zip(outs, refs, sig.outputs):
                a, rel, good = compare(from_device_dtype(o, t.dtype.name), np.asarray(r), t.dtype.name, point_tol)
                errs.append((a, rel))
                if not good:
                    ok = False
                    detail = detail or f"output {t.name} differs from onnxruntime"
            report.points.append(PointResult(label, list(dims), status, max(e[0] for e in errs),
                                             max(e[1] for e in errs), ok, detail))
        for dims in out_of_range_points(sig):
            status = lib.launch_status(dims)
            report.range_checks.append(RangeCheck(dims, status, status == ERR_DIMS))
    finally:
        lib.close()
    return report


def reference_for(subgraph: onnx.ModelProto, sig: Signature, reference_model: onnx.ModelProto | None):
    """The model onnxruntime runs: the given one, else the node itself -- converted to float32 when it is
    bfloat16 (onnxruntime's CPU provider has few bfloat16 kernels)."""
    if reference_model is not None:
        return reference_model
    if any(t.dtype.name == "bfloat16" for t in (*sig.inputs, *sig.outputs)):
        from ..graph.dtype_policy import convert

        return convert(subgraph, "fp32", "validation reference").model
    return subgraph


def reference_outputs(reference_model: onnx.ModelProto, sig: Signature, plugin_inputs) -> list[np.ndarray]:
    """onnxruntime on the plugin's exact input values, cast to the reference model's input dtypes."""
    ref_dtypes = [_elem_name(i) for i in reference_model.graph.input]
    return reference(reference_model, [from_device_dtype(a, t.dtype.name).astype(d)
                                       for a, t, d in zip(plugin_inputs, sig.inputs, ref_dtypes)])


def to_device_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    """The bytes the plugin takes: bfloat16 as uint16 bit patterns (numpy has no bfloat16)."""
    if dtype == "bfloat16":
        from ..graph.dtype_policy import float32_to_bf16_bits

        return float32_to_bf16_bits(np.asarray(values, np.float32))
    return np.ascontiguousarray(values, dtype=np.dtype(dtype))


def from_device_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        from ..graph.dtype_policy import bf16_bits_to_float32

        return bf16_bits_to_float32(values)
    return values


def _elem_name(vi) -> str:
    return str(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))


def _np_dtype(name: str):
    return np.dtype("uint16" if name == "bfloat16" else name)
