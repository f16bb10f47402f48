"""Activations TVM's frontend has no converter for: Celu, Swish, SwiGLU (elementwise, so they fuse into one
kernel with whatever follows)."""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import const


class Celu(OnnxOpConverter):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))"""

    @classmethod
    def _impl_v12(cls, bb, inputs, attr, params):
        x = inputs[0]
        alpha = float(attr.get("alpha", 1.0))
        negative = const(alpha, x) * (relax.op.exp(x / const(alpha, x)) - const(1.0, x))
        return relax.op.maximum(x, const(0.0, x)) + relax.op.minimum(negative, const(0.0, x))


def _swish(x, alpha: float):
    return x * relax.op.sigmoid(const(alpha, x) * x) if alpha != 1.0 else x * relax.op.sigmoid(x)


class Swish(OnnxOpConverter):
    """x * sigmoid(alpha * x)"""

    @classmethod
    def _impl_v24(cls, bb, inputs, attr, params):
        return _swish(inputs[0], float(attr.get("alpha", 1.0)))


class SwiGLU(OnnxOpConverter):
    """Swish_alpha(A) * B"""

    @classmethod
    def _impl_v28(cls, bb, inputs, attr, params):
        return _swish(inputs[0], float(attr.get("alpha", 1.0))) * inputs[1]


CONVERTERS = {"Celu": Celu, "Swish": Swish, "SwiGLU": SwiGLU}
