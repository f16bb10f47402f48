"""QLinearMatMul (no stock converter): the integer product of the zero-point-shifted operands (int32, exact),
rescaled in float32 (the scale formed from the scales' values), rounded half to even, shifted by the output zero
point and saturated, as ONNX's reference."""

from __future__ import annotations

import numpy as np
from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import dtype


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


CONVERTERS = {"QLinearMatMul": QLinearMatMul}
