"""Convolution-like stock converters fixed where they refuse or get a form wrong:
- ConvTranspose with `output_shape` (and no SAME auto_pad): the stock converter ignores it. ONNX's reference then
  places the full transposed convolution at the start and cuts or extends it at the end to output_shape: an end pad
  where it is smaller, output_padding (zeros computed by the kernel) where it is larger.
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock

from .common import constant_value, shape


class ConvTranspose(stock.ConvTranspose):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        auto_pad = attr.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if "output_shape" not in attr or auto_pad != "NOTSET":
            return super()._impl_v1(bb, inputs, attr, params)
        dims = shape(inputs[0])[2:]
        n = len(dims)
        strides = list(attr.get("strides", [1] * n))
        dilations = list(attr.get("dilations", [1] * n))
        kernel = list(attr.get("kernel_shape", shape(inputs[1])[2:]))
        padding = list(attr.get("output_padding", [0] * n))
        wanted = list(attr["output_shape"])[-n:]
        begin, end = list(attr.get("pads", [0] * 2 * n))[:n], [0] * n
        for i in range(n):
            full = strides[i] * (dims[i] - 1) + padding[i] + (kernel[i] - 1) * dilations[i] + 1 - begin[i]
            if full >= wanted[i]:
                end[i] = full - wanted[i]
            else:
                padding[i] += wanted[i] - full
        attr = {k: v for k, v in attr.items() if k not in ("output_shape", "auto_pad")}
        return super()._impl_v1(bb, inputs, {**attr, "pads": begin + end, "output_padding": padding}, params)


class MaxUnpool(stock.MaxUnpool):
    @classmethod
    def _impl_v9(cls, bb, inputs, attr, params):
        wanted = constant_value(inputs[2], params) if len(inputs) > 2 and inputs[2] is not None else None
        if wanted is None:
            return super()._impl_v9(bb, inputs, attr, params)
        y = bb.normalize(super()._impl_v9(bb, [*inputs[:2], None], attr, params))
        inferred, wanted = shape(y), [int(v) for v in wanted.reshape(-1)]
        if any(w < d for w, d in zip(wanted, inferred)):
            raise ValueError(f"MaxUnpool output_shape {wanted} is smaller than the unpooled shape {inferred}")
        return relax.op.nn.pad(y, [p for w, d in zip(wanted, inferred) for p in (0, w - d)])


class MaxPool(stock.MaxPool):
    @classmethod
    def get_converter(cls, opset):
        impl = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            if attr["tvm_custom"]["num_outputs"] < 2:
                return impl(bb, inputs, attr, params)
            y = bb.normalize(impl(bb, inputs, dict(attr), params))
            return relax.Tuple([y, _argmax_indices(bb, inputs[0], y, attr)])

        return convert


def _argmax_indices(bb, x, y, attr: dict):
    dims = shape(x)
    if len(dims) != 4:
        raise ValueError(f"MaxPool's Indices of a {len(dims) - 2}-D pooling: tpat computes them for 2-D pooling")
    auto_pad = attr.get("auto_pad", b"NOTSET")
    if (auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad) != "NOTSET":
        raise ValueError("MaxPool's Indices with auto_pad: tpat computes them for explicit pads")
    return bb.emit_te(_first_max_index, x, y, list(attr["kernel_shape"]), list(attr.get("strides", [1, 1])),
                      list(attr.get("dilations", [1, 1])), list(attr.get("pads", [0, 0, 0, 0])),
                      attr.get("storage_order", 0) == 1, primfunc_name_hint="maxpool_indices")


def _first_max_index(x, y, kernel, strides, dilations, pads, column_major):
    """The first window position (scan order s = i * kw + j) inside the input whose value is the window's maximum
    y: a min reduction over s (positions elsewhere count as kh * kw), then s made the input's flat index."""
    from tvm import te, tirx

    _, c, h, w = [int(d) for d in x.shape]
    kh, kw = kernel
    ri, rj = te.reduce_axis((0, kh), "ri"), te.reduce_axis((0, kw), "rj")

    def first(b, ch, oh, ow):
        hh = oh * strides[0] + ri * dilations[0] - pads[0]
        ww = ow * strides[1] + rj * dilations[1] - pads[1]
        inside = tirx.all(hh >= 0, hh < h, ww >= 0, ww < w)
        clamped = (tirx.max(tirx.min(hh, h - 1), 0), tirx.max(tirx.min(ww, w - 1), 0))
        hit = tirx.all(inside, x[(b, ch, *clamped)] == y[b, ch, oh, ow])
        return te.min(tirx.if_then_else(hit, tirx.Cast("int32", ri * kw + rj), kh * kw), axis=[ri, rj])

    position = te.compute(y.shape, first, name="first_max")

    def index(b, ch, oh, ow):
        s = tirx.Cast("int64", tirx.min(position[b, ch, oh, ow], kh * kw - 1))
        hh = oh * strides[0] + (s // kw) * dilations[0] - pads[0]
        ww = ow * strides[1] + (s % kw) * dilations[1] - pads[1]
        local = hh + ww * h if column_major else hh * w + ww
        return (tirx.Cast("int64", b) * c + ch) * (h * w) + local

    return te.compute(y.shape, index, name="maxpool_index")


CONVERTERS = {"ConvTranspose": ConvTranspose, "MaxUnpool": MaxUnpool, "MaxPool": MaxPool}
