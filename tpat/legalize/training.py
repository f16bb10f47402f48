"""The optimizers of ONNX's training preview domain (Adagrad, Adam, Momentum): elementwise update rules, no stock
converter. Each node updates n tensors at once; its inputs are R (learning rate), T (iteration count), then the n
Xs, the n Gs and the n states of each kind, its outputs the new Xs then the new states, as ONNX's reference
(onnx/reference/ops/aionnx_preview_training) computes them. R and T are scalars the node reads at run time, so
the iteration-dependent factors (bias correction, the first step's coefficient) are computed in the kernel, in
float32 (T as a float: exact up to 2**24 iterations).
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import dtype


def _f(value: float, like):
    return relax.const(float(value), dtype(like))


def _groups(inputs: list, kinds: int) -> list[list]:
    """inputs[2:] split into `kinds` lists of n tensors each (X, G, then the states)."""
    rest = inputs[2:]
    n = len(rest) // kinds
    return [rest[k * n:(k + 1) * n] for k in range(kinds)]


def _step(bb, t, like):
    """T as a float of `like`'s dtype."""
    return bb.normalize(relax.op.astype(t, dtype(like)))


class Adagrad(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        r, t = inputs[0], inputs[1]
        decay, epsilon = float(attr.get("decay_factor", 0.0)), float(attr.get("epsilon", 0.0))
        norm = float(attr.get("norm_coefficient", 0.0))
        xs, gs, hs = _groups(inputs, 3)
        steps = _step(bb, t, r)
        rate = bb.normalize(r / (_f(1.0, r) + steps * _f(decay, r)))
        new_x, new_h = [], []
        for x, g, h in zip(xs, gs, hs):
            g = bb.normalize(_f(norm, x) * x + g)
            h = bb.normalize(h + g * g)
            new_x.append(x - relax.op.astype(rate, dtype(x)) * g / (relax.op.sqrt(h) + _f(epsilon, h)))
            new_h.append(h)
        return relax.Tuple(new_x + new_h)


class Adam(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        r, t = inputs[0], inputs[1]
        alpha, beta = float(attr.get("alpha", 0.9)), float(attr.get("beta", 0.999))
        epsilon, norm = float(attr.get("epsilon", 0.0)), float(attr.get("norm_coefficient", 0.0))
        post = float(attr.get("norm_coefficient_post", 0.0))
        xs, gs, vs, hs = _groups(inputs, 4)
        steps = _step(bb, t, r)
        corrected = (r * relax.op.sqrt(_f(1.0, r) - relax.op.power(_f(beta, r), steps))
                     / (_f(1.0, r) - relax.op.power(_f(alpha, r), steps)))
        rate = bb.normalize(relax.op.where(relax.op.greater(t, relax.const(0, dtype(t))), corrected, r))
        new_x, new_v, new_h = [], [], []
        for x, g, v, h in zip(xs, gs, vs, hs):
            g = bb.normalize(_f(norm, x) * x + g)
            v = bb.normalize(_f(alpha, v) * v + _f(1.0 - alpha, v) * g)
            h = bb.normalize(_f(beta, h) * h + _f(1.0 - beta, h) * (g * g))
            step = relax.op.astype(rate, dtype(x)) * (v / (relax.op.sqrt(h) + _f(epsilon, h)))
            new_x.append(_f(1.0 - post, x) * (x - step))
            new_v.append(v)
            new_h.append(h)
        return relax.Tuple(new_x + new_v + new_h)


class Momentum(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        r, t = inputs[0], inputs[1]
        alpha, beta = float(attr.get("alpha", 0.0)), float(attr.get("beta", 0.0))
        norm = float(attr.get("norm_coefficient", 0.0))
        mode = attr.get("mode", b"standard")
        nesterov = (mode.decode() if isinstance(mode, bytes) else mode) == "nesterov"
        xs, gs, vs = _groups(inputs, 3)
        first = relax.op.greater(t, relax.const(0, dtype(t)))
        new_x, new_v = [], []
        for x, g, v in zip(xs, gs, vs):
            g = bb.normalize(_f(norm, x) * x + g)
            coefficient = relax.op.where(first, _f(beta, x), _f(1.0, x))  # the first step takes G whole
            v = bb.normalize(_f(alpha, v) * v + coefficient * g)
            rate = relax.op.astype(r, dtype(x))
            new_x.append(x - rate * (g + _f(alpha, v) * v) if nesterov else x - rate * v)
            new_v.append(v)
        return relax.Tuple(new_x + new_v)


CONVERTERS = {"Adagrad": Adagrad, "Adam": Adam, "Momentum": Momentum}
