"""Normalizations: LayerNormalization with its Mean and InvStdDev outputs, RMSNormalization over several axes,
LpNormalization.

- LayerNormalization: TVM's converter returns the scalar 0 for Mean and InvStdDev ("only the first is used"),
  which training graphs and some exporters do use. With those outputs asked for they are computed (over the
  normalized axes, kept as 1s, in float32 under stash_type 1); with Y alone the stock converter runs unchanged.
- RMSNormalization: TVM's rms_norm reads the scale with one index per normalized axis and breaks when there are
  several (axis 0 of a 2-D input); written out: x * rsqrt(mean(x^2) + epsilon) * scale.
- BatchNormalization in training mode: relax's batch_norm updates the running statistics as
  moving * (1 - momentum) + batch * momentum (PyTorch's convention), ONNX as moving * momentum + batch *
  (1 - momentum): the stock converter is given 1 - momentum.
- LpNormalization (no stock converter): x / (sum |x|^p)^(1/p) along the axis, 0 where the norm is 0.
- GroupNormalization and InstanceNormalization: one `relax.nn.group_norm` in the input's dtype, its affine
  part included (instance norm is group norm with a group per channel). TVM's converters gave InstanceNorm a
  mean and a variance (two kernels, each a block per row), and GroupNorm (opset 21) a cast of the whole input
  to float32, the normalisation with the affine part left out, a cast back and the affine part: three kernels
  moving the tensor in float32 between them (groupnorm fp16 (64,64,56,56): 872 us on an H200, 0.03x
  torch.compile). tpat's group_norm legalization (`tpat/schedules/group_norm.py`) accumulates 16-bit inputs in
  float32 itself (stash_type 1), in one kernel.
"""

from __future__ import annotations

from tvm import relax, tirx
from tvm.relax.frontend.onnx import onnx_frontend as stock
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import const, dtype


def _axes_from(axis: int, ndim: int) -> list[int]:
    axis = axis + ndim if axis < 0 else axis
    return list(range(axis, ndim))


def _stash(x, stash_type: int):
    """float32 copy of a lower-precision input when stash_type is 1 (ONNX: compute the statistics in float)."""
    return relax.op.astype(x, "float32") if stash_type == 1 and dtype(x) in ("float16", "bfloat16") else x


class LayerNormalization(stock.LayerNormalization):
    @classmethod
    def _impl_v17(cls, bb, inputs, attr, params):
        y = super()._impl_v17(bb, inputs, attr, params)
        if attr["tvm_custom"]["num_outputs"] == 1:
            return y
        x = inputs[0]
        axes = _axes_from(attr.get("axis", -1), x.ty.ndim)
        epsilon = float(attr.get("epsilon", 1e-05))
        xs = bb.normalize(_stash(x, attr.get("stash_type", 1)))
        mean = relax.op.mean(xs, axes, keepdims=True)
        inv_std = relax.op.rsqrt(relax.op.variance(xs, axes, keepdims=True) + const(epsilon, xs))
        return relax.Tuple([y[0], mean, inv_std])


class RMSNormalization(stock.RMSNormalization):
    @classmethod
    def _impl_v23(cls, bb, inputs, attr, params):
        x, scale = inputs[0], inputs[1]
        axes = _axes_from(attr.get("axis", -1), x.ty.ndim)
        if len(axes) == 1:
            return super()._impl_v23(bb, inputs, attr, params)
        stash = attr.get("stash_type", 1)
        xs = bb.normalize(_stash(x, stash))
        epsilon = float(attr.get("epsilon", 1e-05))
        normed = xs * relax.op.rsqrt(relax.op.mean(xs * xs, axes, keepdims=True) + const(epsilon, xs))
        out = bb.normalize(normed * _stash(scale, stash))
        return relax.op.astype(out, dtype(x)) if dtype(out) != dtype(x) else out


class BatchNormalization(stock.BatchNormalization):
    @classmethod
    def _impl_v15(cls, bb, inputs, attr, params):
        if attr.get("training_mode", 0):
            attr = {**attr, "momentum": 1.0 - float(attr.get("momentum", 0.9))}
        return super()._impl_v15(bb, inputs, attr, params)


class LpNormalization(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        x = inputs[0]
        axis = attr.get("axis", -1)
        p = attr.get("p", 2)
        if p == 1:
            norm = relax.op.sum(relax.op.abs(x), axis, keepdims=True)
        elif p == 2:
            norm = relax.op.sqrt(relax.op.sum(x * x, axis, keepdims=True))
        else:
            raise ValueError(f"LpNormalization with p={p}: ONNX defines p as 1 or 2")
        norm = bb.normalize(norm)
        zero = relax.op.equal(norm, const(0.0, x))
        return relax.op.where(zero, relax.op.zeros_like(x), x / norm)


def _static_channels(x) -> int | None:
    dim = x.ty.shape[1] if x.ty.ndim >= 3 else None
    return int(dim) if isinstance(dim, tirx.IntImm) else None


def _group_norm(data, scale, bias, groups: int, epsilon: float):
    """group_norm over (channel group, every spatial axis) with per-channel `scale` and `bias` of data's dtype."""
    scale, bias = (relax.op.astype(t, dtype(data)) if dtype(t) != dtype(data) else t for t in (scale, bias))
    return relax.op.nn.group_norm(data, scale, bias, groups, channel_axis=1, axes=list(range(2, data.ty.ndim)),
                                  epsilon=epsilon)


class GroupNormalization(stock.GroupNormalization):
    @classmethod
    def _impl_v18(cls, bb, inputs, attr, params):
        data, scale, bias = inputs[:3]
        groups, channels = int(attr["num_groups"]), _static_channels(data)
        if channels is None or groups <= 0 or channels % groups:
            return super()._impl_v18(bb, inputs, attr, params)
        per = channels // groups  # opset 18: scale and bias per group
        scale, bias = (relax.op.reshape(relax.op.broadcast_to(relax.op.reshape(t, [groups, 1]), [groups, per]),
                                        [channels]) for t in (scale, bias))
        return _group_norm(data, scale, bias, groups, float(attr.get("epsilon", 1e-05)))

    @classmethod
    def _impl_v21(cls, bb, inputs, attr, params):
        data, scale, bias = inputs[:3]
        groups, channels = int(attr["num_groups"]), _static_channels(data)
        if channels is None or groups <= 0 or channels % groups or attr.get("stash_type", 1) != 1:
            return super()._impl_v21(bb, inputs, attr, params)
        return _group_norm(data, scale, bias, groups, float(attr.get("epsilon", 1e-05)))


class InstanceNormalization(stock.InstanceNormalization):
    @classmethod
    def _impl_v6(cls, bb, inputs, attr, params):
        data, scale, bias = inputs[:3]
        channels = _static_channels(data)
        if channels is None or scale is None or bias is None:
            return super()._impl_v6(bb, inputs, attr, params)
        return _group_norm(data, scale, bias, channels, float(attr.get("epsilon", 1e-05)))


CONVERTERS = {"LayerNormalization": LayerNormalization, "RMSNormalization": RMSNormalization,
              "LpNormalization": LpNormalization, "GroupNormalization": GroupNormalization,
              "InstanceNormalization": InstanceNormalization, "BatchNormalization": BatchNormalization}
