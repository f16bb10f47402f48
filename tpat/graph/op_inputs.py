"""Valid random inputs for checking one node: indices in range, unique where duplicates are undefined.

Random data alone breaks validation (TPAT fed random indices and crashed onnxruntime): index inputs must point
inside the tensor they index, ScatterND/ScatterElements without reduction must not write one element twice
(the result would be undefined), Mod needs non-zero divisors. Rules are per op type; anything else gets normal
floats and small non-negative integers.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

Shapes = Sequence[tuple[int, ...]]


def make_inputs(subgraph: onnx.ModelProto, shapes: Shapes, dtypes: Sequence[str], seed: int) -> list[np.ndarray]:
    """One array per subgraph graph input, in order, shaped `shapes`."""
    rng = np.random.default_rng(seed)
    node = subgraph.graph.node[0]
    arrays = [_default(rng, s, d) for s, d in zip(shapes, dtypes)]
    rule = _RULES.get(node.op_type)
    if rule is not None:
        ctx = _Context(subgraph, node, arrays, rng)
        rule(ctx)
    return arrays


class _Context:
    def __init__(self, subgraph, node, arrays, rng):
        self.rng = rng
        self.arrays = arrays
        self.node = node
        self.attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        self.graph_inputs = [i.name for i in subgraph.graph.input]
        self.consts = {t.name: numpy_helper.to_array(t) for t in subgraph.graph.initializer}

    def slot(self, position: int) -> int | None:
        """Index into `arrays` of the node's input at `position`, or None if it is a constant or absent."""
        if position >= len(self.node.input):
            return None
        name = self.node.input[position]
        return self.graph_inputs.index(name) if name in self.graph_inputs else None

    def value(self, position: int) -> np.ndarray | None:
        s = self.slot(position)
        if s is not None:
            return self.arrays[s]
        name = self.node.input[position] if position < len(self.node.input) else ""
        return self.consts.get(name)

    def set(self, position: int, array: np.ndarray) -> None:
        s = self.slot(position)
        if s is not None:
            self.arrays[s] = array.astype(self.arrays[s].dtype).reshape(self.arrays[s].shape)


def _default(rng, shape, dtype) -> np.ndarray:
    dt = np.dtype(dtype) if dtype != "bfloat16" else np.dtype("float32")
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, size=shape).astype(dt)


def _axis(ctx, rank: int) -> int:
    axis = int(ctx.attrs.get("axis", 0))
    return axis + rank if axis < 0 else axis


def _gather(ctx: _Context):
    data, idx = ctx.value(0), ctx.value(1)
    if data is not None and idx is not None:
        n = data.shape[_axis(ctx, data.ndim)]
        ctx.set(1, ctx.rng.integers(0, n, size=idx.shape))


def _gather_elements(ctx: _Context):
    _gather(ctx)


def _gather_nd(ctx: _Context):
    data, idx = ctx.value(0), ctx.value(1)
    if data is None or idx is None:
        return
    b, k = int(ctx.attrs.get("batch_dims", 0)), idx.shape[-1]
    bounds = np.array(data.shape[b:b + k])
    ctx.set(1, (ctx.rng.random(idx.shape) * bounds).astype(np.int64))


def _unique_tuples(rng, bounds: Sequence[int], count: int, allow_repeat: bool) -> np.ndarray:
    total = int(np.prod(bounds)) if len(bounds) else 1
    flat = rng.integers(0, total, size=count) if allow_repeat or count > total else rng.permutation(total)[:count]
    return np.stack(np.unravel_index(flat, tuple(bounds)), axis=-1) if len(bounds) else np.zeros((count, 0))


def _scatter_nd(ctx: _Context):
    data, idx = ctx.value(0), ctx.value(1)
    if data is None or idx is None:
        return
    k = idx.shape[-1]
    count = int(np.prod(idx.shape[:-1]))
    repeat = ctx.attrs.get("reduction", b"none") not in (b"none", "none")
    ctx.set(1, _unique_tuples(ctx.rng, data.shape[:k], count, repeat))


def _scatter_elements(ctx: _Context):
    data, idx = ctx.value(0), ctx.value(1)
    if data is None or idx is None:
        return
    axis = _axis(ctx, data.ndim)
    n = data.shape[axis]
    if ctx.attrs.get("reduction", b"none") not in (b"none", "none"):
        ctx.set(1, ctx.rng.integers(0, n, size=idx.shape))
        return
    moved = np.moveaxis(np.empty(idx.shape, np.int64), axis, -1)
    lanes = moved.reshape(-1, moved.shape[-1])
    for row in lanes:  # a permutation per lane: no two updates hit one element
        row[:] = ctx.rng.permutation(n)[: row.shape[0]]
    ctx.set(1, np.moveaxis(lanes.reshape(moved.shape), -1, axis))


def _one_hot(ctx: _Context):
    idx, depth = ctx.value(0), ctx.value(1)
    if idx is not None and depth is not None:
        d = int(np.asarray(depth).reshape(-1)[0])
        ctx.set(0, ctx.rng.integers(-d, d, size=idx.shape))


def _nonzero_divisor(ctx: _Context):
    b = ctx.value(1)
    if b is None or ctx.slot(1) is None:
        return
    magnitude = ctx.rng.integers(1, 9, size=b.shape) if b.dtype.kind in "iu" else ctx.rng.uniform(0.5, 4, b.shape)
    sign = np.where(ctx.rng.random(b.shape) < 0.5, -1, 1) if b.dtype.kind != "u" else 1
    ctx.set(1, magnitude * sign)
    a = ctx.value(0)
    if a is not None and a.dtype.kind in "iu" and ctx.slot(0) is not None:
        ctx.set(0, ctx.rng.integers(-50 if a.dtype.kind == "i" else 0, 50, size=a.shape))


def _positive(ctx: _Context):
    for pos in range(len(ctx.node.input)):
        v = ctx.value(pos)
        if v is not None and v.dtype.kind == "f" and ctx.slot(pos) is not None:
            ctx.set(pos, ctx.rng.uniform(0.5, 2.0, v.shape))


_RULES: dict[str, Callable[[_Context], None]] = {
    "Gather": _gather,
    "GatherElements": _gather_elements,
    "GatherND": _gather_nd,
    "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements,
    "OneHot": _one_hot,
    "Mod": _nonzero_divisor,
    "Div": _nonzero_divisor,
    "Log": _positive,
    "Sqrt": _positive,
    "Reciprocal": _positive,
    "Pow": _positive,
}
