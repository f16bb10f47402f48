"""A rewritten model against its original, whole: both in onnxruntime except the plugin nodes, at min / opt / max
and an odd value of every dynamic dim. A point that differs names its first differing output and the plugin
nearest to it: among the plugin nodes upstream of that output, the first whose own outputs already differ from
the same tensors of the original (a second run of the original exposes them), else the closest one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import onnx

from ..errors import TpatError
from ..graph.partition import is_plugin_node
from .inputs import dynamic_dims, index_bounds, random_inputs

# A whole model sums kernels whose reductions run in another order than onnxruntime's: looser than one node's check.
MODEL_TOLERANCES = {"float32": (1e-3, 1e-3), "float16": (5e-2, 5e-2), "bfloat16": (1e-1, 1e-1)}
ODD = 7


@dataclass
class OutputDiff:
    name: str
    max_abs_err: float
    max_rel_err: float
    passed: bool


@dataclass
class PointCheck:
    label: str
    dims: dict[str, int]
    outputs: list[OutputDiff] = field(default_factory=list)
    first_bad_output: str | None = None
    suspect: str | None = None  # "plugin P (node N): its own outputs differ" or "... nearest upstream"

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def max_abs_err(self) -> float:
        return max((o.max_abs_err for o in self.outputs), default=0.0)


@dataclass
class ModelCheck:
    model: str
    original: str
    backend: str
    sessions: int
    plugin_nodes: int
    plugins: int
    points: list[PointCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.points) and all(p.passed for p in self.points)

    def to_json(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "points"}, "passed": self.passed,
                "points": [{**asdict(p), "passed": p.passed, "max_abs_err": p.max_abs_err} for p in self.points]}

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        pts = ", ".join(f"{p.label}{_dims_text(p.dims)} {p.max_abs_err:.2g}" for p in self.points)
        lines = [f"{verdict} {Path(self.model).name} vs {Path(self.original).name}: {self.plugin_nodes} plugin "
                 f"nodes ({self.plugins} plugins, {self.backend}), {self.sessions} onnxruntime sessions; "
                 f"max abs err {pts}"]
        for p in self.points:
            if not p.passed:
                lines.append(f"  {p.label}{_dims_text(p.dims)}: output {p.first_bad_output!r} differs; {p.suspect}")
        return "\n".join(lines)


def _dims_text(dims: Mapping[str, int]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in dims.items()) + ")" if dims else ""


def dim_points(ranges: Mapping[str, tuple[int, int, int]]) -> list[tuple[str, dict[str, int]]]:
    """min, opt, max and an odd value inside every range (7 when it fits, else the odd value nearest the range's
    low end), without repeats."""
    if not ranges:
        return [("static", {})]
    points = [(k, {n: r[i] for n, r in ranges.items()}) for i, k in enumerate(("min", "opt", "max"))]
    odd = {}
    for n, (lo, _, hi) in ranges.items():
        v = min(max(ODD, lo), hi)
        if v % 2 == 0:
            v = v + 1 if v + 1 <= hi else v - 1
        odd[n] = max(v, lo)
    points.append(("odd", odd))
    seen, out = set(), []
    for label, dims in points:
        key = tuple(sorted(dims.items()))
        if key not in seen:
            seen.add(key)
            out.append((label, dims))
    return out


def dim_ranges(original: onnx.ModelProto, plugin_ranges: Mapping[str, tuple[int, int, int]],
               given: Mapping[str, tuple[int, int, int]] | None = None) -> dict[str, tuple[int, int, int]]:
    """Every dynamic dim of the model's inputs with its range: given ones first, then the plugins' (the spec's
    `dynamic:` they were built with)."""
    given = dict(given or {})
    out = {}
    for name in dynamic_dims(original):
        r = given.get(name) or plugin_ranges.get(name)
        if r is None:
            raise TpatError(f"dynamic dim {name!r} of the model's inputs has no range (no plugin reads it)",
                            hint=f"give one: --dim {name}=MIN:OPT:MAX")
        out[name] = tuple(int(v) for v in r)
    return out


def compare(got: np.ndarray, ref: np.ndarray, tolerances=MODEL_TOLERANCES) -> tuple[float, float, bool]:
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        return float("inf"), float("inf"), False
    name = str(ref.dtype)
    if name not in tolerances:
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64)) if got.size else np.zeros(1)
        same = bool(np.array_equal(got, ref))
        return float(diff.max(initial=0)), 0.0 if same else 1.0, same
    rtol, atol = tolerances[name]
    o, r = got.astype(np.float64), ref.astype(np.float64)
    diff = np.where(np.isnan(o) & np.isnan(r), 0.0, np.abs(o - r))
    rel = diff / np.maximum(np.abs(r), atol)
    ok = bool(np.allclose(o, r, rtol=rtol, atol=atol, equal_nan=True))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0)), float(np.nan_to_num(rel, nan=np.inf).max(initial=0)), ok


class ReferenceModel:
    """The original model in onnxruntime on the CPU; `run(feeds, extra)` also returns tensors `extra` names."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self._plain = None
        self._types = None

    def run(self, feeds: Mapping[str, np.ndarray], extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        from .segments import session

        if not extra:
            if self._plain is None:
                self._plain = session(self.model, ["CPUExecutionProvider"])
            outs = self._plain.run(None, dict(feeds))
            return {o.name: v for o, v in zip(self.model.graph.output, outs)}
        if self._types is None:
            inferred = onnx.shape_inference.infer_shapes(self.model)
            self._types = {vi.name: vi for vi in (*inferred.graph.value_info, *inferred.graph.output)}
        m = onnx.ModelProto()
        m.CopyFrom(self.model)
        exposed = [t for t in extra if t in self._types and t not in {o.name for o in m.graph.output}]
        m.graph.output.extend(self._types[t] for t in exposed)
        outs = session(m, ["CPUExecutionProvider"]).run(None, dict(feeds))
        return {o.name: v for o, v in zip(m.graph.output, outs)}


def nearest_plugin(model: onnx.ModelProto, output: str, differs) -> str:
    """The plugin nearest to `output` (see the module's doc); `differs(node) -> bool` says whether a plugin node's
    own outputs differ from the original's."""
    nodes = list(model.graph.node)
    producer = {t: i for i, n in enumerate(nodes) for t in n.output}
    distance: dict[int, int] = {}
    frontier = [producer[output]] if output in producer else []
    step = 0
    while frontier:  # breadth-first up the producers
        nxt = []
        for i in frontier:
            if i in distance:
                continue
            distance[i] = step
            nxt += [producer[t] for t in nodes[i].input if t in producer]
        frontier, step = nxt, step + 1
    upstream = sorted(i for i in distance if is_plugin_node(nodes[i]))
    if not upstream:
        return "no plugin node is upstream of it: the difference is onnxruntime's"
    for i in upstream:  # graph order: the first that already differs is where it starts
        if differs(nodes[i]):
            return f"plugin {nodes[i].op_type} (node {nodes[i].name!r}): its own outputs differ from the original's"
    i = min(upstream, key=lambda k: (distance[k], -k))
    return (f"plugin {nodes[i].op_type} (node {nodes[i].name!r}) is the nearest upstream; every plugin's own outputs "
            "match, so the difference builds up across nodes")


def check_model(rewritten: onnx.ModelProto, original: onnx.ModelProto, plugins: Mapping, runner=None,
                ranges: Mapping[str, tuple[int, int, int]] | None = None, seed: int = 0, names=("", ""),
                backend: str = "gpu", tolerances=MODEL_TOLERANCES) -> ModelCheck:
    """`plugins`: plugin name -> runner (`tpat.runtime.plugins`); `ranges` the dynamic dims' ranges (see
    `dim_ranges`)."""
    from .model_runner import ModelRunner

    runner = runner or ModelRunner(rewritten, plugins)
    reference = ReferenceModel(original)
    bounds = index_bounds(original)
    steps = runner.partition.plugins
    result = ModelCheck(names[0], names[1], backend, runner.session_count, len(steps), len({s.plugin for s in steps}))
    for n, (label, dims) in enumerate(dim_points(ranges or {})):
        feeds = random_inputs(original, dims, seed + n, bounds)
        got = runner.run(feeds)
        want = reference.run(feeds)
        point = PointCheck(label, dims)
        for o in original.graph.output:
            a, r, ok = compare(got[o.name], want[o.name], tolerances)
            point.outputs.append(OutputDiff(o.name, a, r, ok))
        bad = next((o.name for o in point.outputs if not o.passed), None)
        if bad is not None:
            point.first_bad_output = bad
            inner = tuple(t for s in steps for t in s.outputs)
            exposed = reference.run(feeds, inner)

            def differs(node, got=runner.tensors, exposed=exposed):
                return any(t in exposed and not compare(got[t], exposed[t], tolerances)[2] for t in node.output)

            point.suspect = nearest_plugin(rewritten, bad, differs)
        result.points.append(point)
    return result
