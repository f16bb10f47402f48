"""Stock converters that refuse valid ONNX, fixed where they fail and left alone where they work.

Each class here derives from TVM's own converter and changes only the case the stock one gets wrong, so every
model it converted before converts to the same relax program (the same kernels):
- OneHot with a float depth, values or indices (ONNX allows any numeric type; the stock one passes a float
  depth);
- Pow of mixed or integer types (ONNX: the result has X's type; TVM's power takes one float type);
- Mod of float16/bfloat16 (TVM's fmod exists for 32 and 64 bits only): computed in float32;
- ReduceMax/ReduceMin of bool (TVM has no min/max value for bool): as uint8;
- EyeLike with an output dtype other than its input's (the `dtype` attribute);
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
        return relax.op.one_hot(indices, relax.prim_value(on_value), relax.prim_value(off_value), depth,
                                attr.get("axis", -1))


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
            if any(isinstance(i, relax.Expr) and dtype(i) in ("float16", "bfloat16") for i in inputs):
                out = dtype(inputs[0])
                return _as(bb.normalize(impl(bb, [_as(i, "float32") for i in inputs], attr, params)), out)
            return impl(bb, inputs, attr, params)

        return convert


def _bool_as_uint8(base):
    class BoolAsUint8(base):
        @classmethod
        def get_converter(cls, opset):
            impl = super().get_converter(opset)

            def convert(bb, inputs, attr, params):
                if dtype(inputs[0]) != "bool":
                    return impl(bb, inputs, attr, params)
                out = impl(bb, [relax.op.astype(inputs[0], "uint8"), *inputs[1:]], attr, params)
                return relax.op.astype(bb.normalize(out), "bool")

            return convert

    BoolAsUint8.__name__ = base.__name__
    return BoolAsUint8


class EyeLike(OnnxOpConverter):
    @classmethod
    def _impl_v9(cls, bb, inputs, attr, params):
        out = stock.get_type(attr["dtype"]) if "dtype" in attr else dtype(inputs[0])
        return relax.op.eye_like(inputs[0], attr.get("k", 0), out)


class Slice(stock.Slice):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        """Attributes made the constant inputs opset 10 took them as (axes default to the first len(starts))."""
        const = [relax.const(np.asarray(attr[k], np.int64)) if k in attr else None for k in ("starts", "ends", "axes")]
        return super()._impl_v13(bb, [inputs[0], *const, None], attr, params)

    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        return super()._impl_v13(bb, inputs, attr, params)


CONVERTERS = {"OneHot": OneHot, "Pow": Pow, "Mod": Mod, "ReduceMax": _bool_as_uint8(stock.ReduceMax),
              "ReduceMin": _bool_as_uint8(stock.ReduceMin), "EyeLike": EyeLike,
              "Slice": Slice}
