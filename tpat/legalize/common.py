"""Small helpers the converters share: dtypes, static shapes, constants of a relax expression."""

from __future__ import annotations

import numpy as np
from tvm import relax


def dtype(x) -> str:
    return str(x.ty.dtype)


def shape(x) -> list[int]:
    """The static shape of `x` (tpat's subgraphs have static shapes unless a dim is declared dynamic)."""
    return [int(v) for v in x.ty.shape.values]


def const(value, like) -> relax.Constant:
    """A scalar constant of `like`'s dtype."""
    return relax.const(value, dtype(like))


def constant_value(expr, params) -> np.ndarray | None:
    """The values of a constant input (an initializer baked into the subgraph), or None for a runtime tensor."""
    from tvm.relax.frontend.onnx.onnx_frontend import get_constant

    value = get_constant(expr, params) if expr is not None else None
    data = getattr(value, "value", None) if value is not None else None
    if data is None:
        data = getattr(value, "data", None)
    return data.numpy() if data is not None and hasattr(data, "numpy") else None


def emit(bb, expr):
    return bb.emit(expr)
