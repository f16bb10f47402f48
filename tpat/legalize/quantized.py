"""QLinearMatMul (no stock converter): the integer product of the zero-point-shifted operands (int32, exact),
rescaled in float32 (the scale formed from the scales' values), rounded half to even, shifted by the output zero
point and saturated, as ONNX's reference.

ConvInteger and QLinearConv (no stock converters): the convolution of the zero-point-shifted operands in int32 (the
stock Conv converter on int32 tensors: exact, pads are zeros of the shifted input as in ONNX's reference, the weight
zero point per output channel where it is 1-D); QLinearConv adds the int32 bias, rescales by x_scale * w_scale /
y_scale (w_scale per output channel where 1-D) in float32, rounds half to even, shifts and saturates.

DequantizeLinear and QuantizeLinear with `block_size` (blocked quantization, opset 21; the stock converters refuse
it): the constant scale and zero point hold one value per block of `block_size` elements along `axis`; they are
expanded to the input's shape here (numpy: they are constants), then y = (x - zero_point) * scale, or
y = saturate(round_half_even(x / scale) + zero_point), elementwise as ONNX's reference."""

from __future__ import annotations

import numpy as np
from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value, dtype, shape


def _shifted(x, zero_point):
    x = relax.op.astype(x, "int32")
    return x if zero_point is None else x - relax.op.astype(zero_point, "int32")


class QLinearMatMul(OnnxOpConverter):
    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = (inputs + [None] * 8)[:8]
        product = relax.op.astype(relax.op.matmul(_shifted(a, a_zp), _shifted(b, b_zp)), "float32")
        scale = (relax.op.astype(a_scale, "float32") * relax.op.astype(b_scale, "float32")
                 / relax.op.astype(y_scale, "float32"))
        y = product * scale
        out = dtype(y_zp) if y_zp is not None else dtype(a)
        if y_zp is not None:
            y = y + relax.op.astype(y_zp, "float32")
        info = np.iinfo(out)
        y = relax.op.clip(relax.op.round(y), float(info.min), float(info.max))
        return relax.op.astype(bb.normalize(y), out)


def _weight_shifted(bb, w, zero_point):
    """w - zero_point in int32, a 1-D zero point taken per output channel (w's axis 0)."""
    rank = w.ty.ndim
    w = relax.op.astype(w, "int32")
    if zero_point is None:
        return w
    zp = relax.op.astype(zero_point, "int32")
    if zero_point.ty.ndim == 1:
        zp = bb.normalize(zp)
        zp = relax.op.reshape(zp, [-1] + [1] * (rank - 1))
    return w - zp


def _conv_int32(bb, x, x_zp, w, w_zp, attr, params):
    conv = stock.Conv.get_converter(11)
    attr = {k: v for k, v in attr.items() if k != "tvm_custom"} | {"tvm_custom": attr.get("tvm_custom", {})}
    return bb.normalize(conv(bb, [bb.normalize(_shifted(x, x_zp)), bb.normalize(_weight_shifted(bb, w, w_zp)), None],
                             attr, params))


class ConvInteger(OnnxOpConverter):
    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        x, w, x_zp, w_zp = (inputs + [None] * 4)[:4]
        return _conv_int32(bb, x, x_zp, w, w_zp, attr, params)


class QLinearConv(OnnxOpConverter):
    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias = (inputs + [None] * 9)[:9]
        y = _conv_int32(bb, x, x_zp, w, w_zp, attr, params)
        channels = [1, -1] + [1] * (y.ty.ndim - 2)
        if bias is not None:
            y = y + relax.op.reshape(bb.normalize(relax.op.astype(bias, "int32")), channels)
        per_channel = w_scale.ty.ndim == 1
        w_scale = bb.normalize(relax.op.astype(w_scale, "float32"))
        if per_channel:
            w_scale = relax.op.reshape(w_scale, channels)
        scale = relax.op.astype(x_scale, "float32") * w_scale / relax.op.astype(y_scale, "float32")
        y = relax.op.astype(y, "float32") * scale
        out = dtype(y_zp) if y_zp is not None else dtype(x)
        if y_zp is not None:
            y = y + relax.op.astype(y_zp, "float32")
        info = np.iinfo(out)
        return relax.op.astype(bb.normalize(relax.op.clip(relax.op.round(y), float(info.min), float(info.max))), out)


def _per_element(value: np.ndarray, dims: list[int], axis: int, block: int) -> np.ndarray:
    """A blocked scale or zero point repeated `block` times along `axis`, cut to the input's length there."""
    expanded = np.repeat(value, block, axis=axis)
    return np.take(expanded, np.arange(dims[axis]), axis=axis)


def _blocked(inputs, attr, params, what: str):
    """(x, scale, zero point or None, axis) with scale and zero point expanded to x's shape."""
    x = inputs[0]
    dims = shape(x)
    axis = attr.get("axis", 1)
    axis = axis + len(dims) if axis < 0 else axis
    scale = constant_value(inputs[1], params)
    zp = constant_value(inputs[2], params) if len(inputs) > 2 and inputs[2] is not None else None
    if scale is None or (len(inputs) > 2 and inputs[2] is not None and zp is None):
        raise ValueError(f"{what} with block_size needs constant scale and zero point (initializers of the model)")
    block = int(attr["block_size"])
    scale = _per_element(scale, dims, axis, block)
    zp = None if zp is None else _per_element(zp, dims, axis, block)
    return x, scale, zp


def _with_blocks(base, blocked):
    class WithBlocks(base):
        @classmethod
        def get_converter(cls, opset):
            impl = super().get_converter(opset)

            def convert(bb, inputs, attr, params):
                if not attr.get("block_size", 0):
                    return impl(bb, inputs, attr, params)
                return blocked(bb, inputs, attr, params)

            return convert

    WithBlocks.__name__ = base.__name__
    return WithBlocks


def _dequantize_blocked(bb, inputs, attr, params):
    x, scale, zp = _blocked(inputs, attr, params, "DequantizeLinear")
    out = stock.get_type(attr["output_dtype"]) if attr.get("output_dtype") else str(scale.dtype)
    y = relax.op.astype(x, "float32")
    if zp is not None:
        y = y - relax.const(zp.astype("float32"), "float32")
    y = y * relax.const(scale.astype("float32"), "float32")
    return relax.op.astype(bb.normalize(y), out) if out != "float32" else y


def _quantize_blocked(bb, inputs, attr, params):
    x, scale, zp = _blocked(inputs, attr, params, "QuantizeLinear")
    if zp is not None:
        out = str(zp.dtype)
    else:
        out = stock.get_type(attr["output_dtype"]) if attr.get("output_dtype") else "uint8"
    if out not in ("int8", "uint8", "int16", "uint16", "int32", "uint32"):
        raise ValueError(f"QuantizeLinear with block_size to {out}: tpat quantizes blocks to integer types only")
    y = relax.op.round(relax.op.astype(x, "float32") / relax.const(scale.astype("float32"), "float32"))
    if zp is not None:
        y = y + relax.const(zp.astype("float32"), "float32")
    info = np.iinfo(out)
    return relax.op.astype(bb.normalize(relax.op.clip(y, float(info.min), float(info.max))), out)


CONVERTERS = {"QLinearMatMul": QLinearMatMul, "ConvInteger": ConvInteger, "QLinearConv": QLinearConv,
              "DequantizeLinear": _with_blocks(stock.DequantizeLinear, _dequantize_blocked),
              "QuantizeLinear": _with_blocks(stock.QuantizeLinear, _quantize_blocked)}
