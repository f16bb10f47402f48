"""CumSum and CumProd as log2(n) whole-tensor steps (Hillis-Steele), for the forms TVM's GPU scan gets wrong.

TVM's CUDA scan for an exclusive, reverse, non-last-axis or integer CumSum (and every CumProd: no converter at
all) is an old IR-builder kernel that keeps per-thread scratch in host-allocated buffers, which no plugin can
place. Here step k adds (multiplies) the tensor shifted by 2^k along the axis, the vacated head filled with 0 (1):
log2(n) elementwise kernels, any axis and dtype; reverse flips around the scan, exclusive shifts by one. The plain
inclusive float CumSum over the last axis keeps the stock converter (TVM's fast two-level scan).
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value, dtype, shape


def _shifted(bb, x, axis: int, by: int, fill: float):
    """x moved `by` places up along `axis`, the first `by` places `fill`."""
    dims = shape(x)
    n = dims[axis]
    head = list(dims)
    head[axis] = min(by, n)
    pad = relax.op.zeros(head, dtype(x)) + relax.const(fill, dtype(x)) if fill else relax.op.zeros(head, dtype(x))
    if by >= n:
        return bb.normalize(pad)
    body = relax.op.strided_slice(x, [axis], [0], [n - by])
    return bb.normalize(relax.op.concat([pad, body], axis=axis))


def scan(bb, x, axis: int, product: bool, exclusive: bool, reverse: bool):
    identity = 1.0 if product else 0.0
    combine = relax.op.multiply if product else relax.op.add
    if reverse:
        x = bb.normalize(relax.op.flip(x, axis))
    n, step = shape(x)[axis], 1
    y = x
    while step < n:
        y = bb.normalize(combine(y, _shifted(bb, y, axis, step, identity)))
        step *= 2
    if exclusive:
        y = _shifted(bb, y, axis, 1, identity)
    return relax.op.flip(y, axis) if reverse else y


def _axis(inputs, params) -> int:
    value = constant_value(inputs[1], params)
    if value is None:
        raise ValueError("the axis of a cumulative op must be a constant (an initializer of the model)")
    rank = inputs[0].ty.ndim
    axis = int(value.reshape(-1)[0])
    return axis + rank if axis < 0 else axis


class CumSum(stock.CumSum):
    @classmethod
    def get_converter(cls, opset):
        impl = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            axis = _axis(inputs, params)
            exclusive, reverse = bool(attr.get("exclusive", 0)), bool(attr.get("reverse", 0))
            if not (exclusive or reverse) and axis == inputs[0].ty.ndim - 1 and dtype(inputs[0]).startswith("float"):
                return impl(bb, inputs, attr, params)  # TVM's own fast scan
            return scan(bb, inputs[0], axis, False, exclusive, reverse)

        return convert


class CumProd(OnnxOpConverter):
    @classmethod
    def _impl_v26(cls, bb, inputs, attr, params):
        return scan(bb, inputs[0], _axis(inputs, params), True, bool(attr.get("exclusive", 0)),
                    bool(attr.get("reverse", 0)))


CONVERTERS = {"CumSum": CumSum, "CumProd": CumProd}
