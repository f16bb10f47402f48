"""Data movement without a stock converter: ReverseSequence (relax has the op), CenterCropPad (a centered crop
and zero pad per axis, sizes from the constant `shape` input, rounding as ONNX's reference: the odd element goes
to the end)."""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value, shape


class ReverseSequence(OnnxOpConverter):
    @classmethod
    def _impl_v10(cls, bb, inputs, attr, params):
        return relax.op.reverse_sequence(inputs[0], inputs[1], int(attr.get("time_axis", 0)),
                                         int(attr.get("batch_axis", 1)))


class CenterCropPad(OnnxOpConverter):
    @classmethod
    def _impl_v18(cls, bb, inputs, attr, params):
        x = inputs[0]
        target = constant_value(inputs[1], params)
        if target is None:
            raise ValueError("CenterCropPad needs a constant `shape` (an initializer of the model)")
        dims = shape(x)
        rank = len(dims)
        axes = [a + rank if a < 0 else a for a in attr.get("axes", range(rank))]
        begin, end = [0] * rank, list(dims)
        pads = [0] * (2 * rank)
        for axis, size in zip(axes, target.reshape(-1).tolist()):
            dim = dims[axis]
            if size < dim:
                begin[axis] = (dim - size) // 2
                end[axis] = begin[axis] + size
            elif size > dim:
                pads[axis] = (size - dim) // 2
                pads[rank + axis] = size - dim - pads[axis]
        out = relax.op.strided_slice(x, list(range(rank)), begin, end)
        if any(pads):  # relax's pad takes (before, after) per axis
            out = relax.op.nn.pad(bb.normalize(out), [p for a in range(rank) for p in (pads[a], pads[rank + a])])
        return out


CONVERTERS = {"ReverseSequence": ReverseSequence, "CenterCropPad": CenterCropPad}
