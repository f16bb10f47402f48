"""Stock converters that refuse valid ONNX, fixed where they fail and left alone where they work.

Each class here derives from TVM's own converter and changes only the case the stock one gets wrong, so every
model it converted before converts to the same relax program (the same kernels):
- OneHot with a float depth, values or indices (ONNX allows any numeric type; the stock one passes a float
  depth), or a negative axis other than -1;
- Pow of mixed or integer types (ONNX: the result has X's type; TVM's power takes one float type);
- Mod of float16/bfloat16 (TVM's fmod exists for 32 and 64 bits only): computed in float32; float Mod with
  fmod=0 (numpy's mod: the sign of the divisor) from fmod, which keeps the IEEE cases (x % inf, inf % y, y = 0)
  that TVM's floor_mod (x - floor(x / y) * y) turns into NaN or 0;
- IsInf's detect_negative/detect_positive (the stock converter ignores them);
- ReduceMax/ReduceMin of bool (TVM has no min/max value for bool): as uint8; over an empty set (a reduced axis
  of size 0) the reduction's identity, -inf/+inf (ONNX's reference), where TVM gives the lowest finite value;
- BitCast (no stock converter, opset 26): the same bits read as another type of the same width (`reinterpret`);
  bool to an 8-bit type is its 0/1 byte;
- EyeLike with an output dtype other than its input's (the `dtype` attribute): relax's eye_like legalizes to the
  input's dtype whatever its own says, so the identity is made by `eye` (static shape) or cast after.
- Slice of opsets 1-9 (starts, ends, axes as attributes; the stock one reads them as inputs only).
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import dtype

FLOATS = ("float16", "bfloat16", "float32", "float64")


class OneHot(stock.OneHot):
    @classmethod
    def _impl_v11(cls, bb, inputs, attr, params):
        indices = inputs[0]
        if dtype(indices) in FLOATS:  # ONNX allows float indices: their integer part
            indices = bb.normalize(relax.op.astype(indices, "int64"))
        depth, values = stock.get_constant(inputs[1], params), stock.get_constant(inputs[2], params)
        if not isinstance(depth, tvm.ir.GenericConst) or not isinstance(values, tvm.ir.GenericConst):
            raise ValueError("OneHot needs constant depth and values (initializers of the model)")
        depth = int(np.asarray(depth.value.numpy()).reshape(-1)[0])
        off_value, on_value = np.asarray(values.value.numpy()).reshape(-1).tolist()
        indices = stock._normalize_negative_indices(bb, indices, relax.const(depth, dtype(indices)))
        axis = attr.get("axis", -1)  # relax's one_hot takes -1 alone of the negative axes
        axis = axis + indices.ty.ndim + 1 if axis < -1 else axis
        return relax.op.one_hot(indices, relax.prim_value(on_value), relax.prim_value(off_value), depth, axis)


class Pow(stock.Pow):
    @classmethod
    def _impl_v7(cls, bb, inputs, attr, params):
        x, y = inputs
        if not isinstance(x, relax.Expr) or not isinstance(y, relax.Expr) or \
                (dtype(x) == dtype(y) and dtype(x) in FLOATS):
            return super()._impl_v7(bb, inputs, attr, params)
        out = dtype(x)
        compute = out if out in FLOATS else "float64"  # integers: exact in float64 up to 2**53
        z = bb.normalize(relax.op.power(_as(x, compute), _as(y, compute)))
        return _as(z, out)


def _as(x, to: str):
    return x if dtype(x) == to else relax.op.astype(x, to)


class Mod(stock.Mod):
    @classmethod
    def get_converter(cls, opset):
        impl = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            floats = all(isinstance(i, relax.Expr) and dtype(i) in FLOATS for i in inputs)
            if floats and not attr.get("fmod", 0):
                return _python_mod(bb, *inputs)
            if any(isinstance(i, relax.Expr) and dtype(i) in ("float16", "bfloat16") for i in inputs):
                out = dtype(inputs[0])
                return _as(bb.normalize(impl(bb, [_as(i, "float32") for i in inputs], attr, params)), out)
            return impl(bb, inputs, attr, params)

        return convert


def _python_mod(bb, x, y):
    """numpy's mod of floats: r = fmod(x, y); r + y where r is nonzero and its sign differs from y's; a zero takes
    y's sign."""
    out = dtype(x)
    compute = "float32" if out in ("float16", "bfloat16") else out
    x, y = bb.normalize(_as(x, compute)), bb.normalize(_as(y, compute))
    r = bb.normalize(relax.op.mod(x, y))
    zero = relax.const(0.0, compute)
    y_negative = relax.op.less(y, zero)
    flip = relax.op.logical_and(relax.op.not_equal(r, zero),
                                relax.op.logical_xor(relax.op.less(r, zero), y_negative))
    signed_zero = relax.op.where(y_negative, relax.const(-0.0, compute), zero)
    r = relax.op.where(flip, r + y, relax.op.where(relax.op.equal(r, zero), signed_zero, r))
    return _as(bb.normalize(r), out)


class IsInf(OnnxOpConverter):
    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        x = inputs[0]
        negative, positive = attr.get("detect_negative", 1), attr.get("detect_positive", 1)
        if negative and positive:
            return relax.op.isinf(x)
        if not negative and not positive:
            return relax.op.zeros(x.ty.shape, "bool")
        inf = relax.const(float("inf") if positive else float("-inf"), dtype(x))
        return relax.op.equal(x, inf)


def _bool_as_uint8(base):
    class BoolAsUint8(base):
        @classmethod
        def get_converter(cls, opset):
            impl = super().get_converter(opset)

            def convert(bb, inputs, attr, params):
                empty = _empty_reduction(base, inputs, attr, params)
                if empty is not None:
                    return empty
                if dtype(inputs[0]) != "bool":
                    return impl(bb, inputs, attr, params)
                out = impl(bb, [relax.op.astype(inputs[0], "uint8"), *inputs[1:]], attr, params)
                return relax.op.astype(bb.normalize(out), "bool")

            return convert

    BoolAsUint8.__name__ = base.__name__
    return BoolAsUint8


def _empty_reduction(base, inputs, attr, params):
    """The identity of max (min) as a constant of the output's shape when a reduced axis has size 0 (static shapes
    only; None otherwise): ONNX's reference gives -inf (+inf) for floats, the type's lowest (highest) value for
    integers, False (True) for bool."""
    x = inputs[0]
    if x.ty.shape is None or not all(isinstance(d, tvm.tirx.IntImm) for d in x.ty.shape.values):
        return None
    dims = [int(d) for d in x.ty.shape.values]
    if 0 not in dims:
        return None
    if len(inputs) > 1 and inputs[1] is not None:
        axes = stock.get_constant(inputs[1], params)
        if not isinstance(axes, tvm.ir.GenericConst):
            return None
        axes = np.asarray(axes.value.numpy()).reshape(-1).tolist()
    else:
        axes = attr.get("axes")
    if not axes:
        if attr.get("noop_with_empty_axes", 0):
            return None
        axes = list(range(len(dims)))
    axes = [a + len(dims) if a < 0 else a for a in axes]
    if all(dims[a] != 0 for a in axes):
        return None
    keep = attr.get("keepdims", 1)
    out = [1 if a in axes else d for a, d in enumerate(dims) if keep or a not in axes]
    is_max = base.__name__ == "ReduceMax"
    kind = dtype(x)
    if kind == "bool":
        fill = not is_max
    elif kind in FLOATS:
        fill = float("-inf") if is_max else float("inf")
    else:
        info = np.iinfo(kind)
        fill = int(info.min if is_max else info.max)
    return relax.const(np.full(out, fill, kind), kind)


class EyeLike(OnnxOpConverter):
    @classmethod
    def _impl_v9(cls, bb, inputs, attr, params):
        x = inputs[0]
        out = stock.get_type(attr["dtype"]) if "dtype" in attr else dtype(x)
        k = attr.get("k", 0)
        dims = x.ty.shape.values if x.ty.shape is not None else None
        if dims is not None and all(isinstance(d, tvm.tirx.IntImm) for d in dims):
            return relax.op.eye(int(dims[0]), int(dims[1]), k, out)
        return _as(bb.normalize(relax.op.eye_like(x, k)), out)


class Slice(stock.Slice):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        """Attributes made the constant inputs opset 10 took them as (axes default to the first len(starts))."""
        const = [relax.const(np.asarray(attr[k], np.int64)) if k in attr else None for k in ("starts", "ends", "axes")]
        return super()._impl_v13(bb, [inputs[0], *const, None], attr, params)

    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        return super()._impl_v13(bb, inputs, attr, params)


class BitCast(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        x = inputs[0]
        to = stock.get_type(attr["to"])
        source = dtype(x)
        if source == to:
            return x
        if source == "bool":
            if np.dtype(to).itemsize != 1:
                raise ValueError(f"BitCast from bool to {to}: the types differ in width")
            return relax.op.astype(x, to)
        if np.dtype(source).itemsize != np.dtype(to).itemsize:
            raise ValueError(f"BitCast from {source} to {to}: the types differ in width")
        return bb.emit_te(_reinterpret, x, to, primfunc_name_hint="bitcast")


def _reinterpret(x, to: str):
    from tvm import te, tirx

    return te.compute(x.shape, lambda *i: tirx.reinterpret(to, x(*i)), name="bitcast")


CONVERTERS = {"BitCast": BitCast, "OneHot": OneHot, "Pow": Pow, "Mod": Mod, "ReduceMax": _bool_as_uint8(stock.ReduceMax),
              "ReduceMin": _bool_as_uint8(stock.ReduceMin), "EyeLike": EyeLike, "IsInf": IsInf,
              "Slice": Slice}
