"""Data movement without a stock converter: Col2Im and TensorScatter (their classes say how), ReverseSequence
(relax has the op), CenterCropPad (a centered crop and zero pad per axis, sizes from the constant `shape` input,
rounding as ONNX's reference: the odd element goes to the end); SpaceToDepth's CRD mode (opset 25; the stock
converter knows DCR only); Upsample of opset 9.

Stock converters fixed for zero-size forms: Split into parts of size 0 (relax's split wants strictly
increasing indices: each part is a slice, an empty one a constant), Reshape with allowzero and a 0 in the constant
shape (the stock converter makes the shape a runtime value, which a plugin cannot take; the result is empty, a
constant)."""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value, dtype, shape


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


class SpaceToDepth(stock.SpaceToDepth):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        mode = attr.get("mode", b"DCR")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "CRD":
            return super()._impl_v1(bb, inputs, attr, params)
        block = int(attr["blocksize"])
        b, c, h, w = shape(inputs[0])
        x = relax.op.reshape(inputs[0], (b, c, h // block, block, w // block, block))
        x = relax.op.permute_dims(x, [0, 1, 3, 5, 2, 4])
        return relax.op.reshape(x, (b, c * block * block, h // block, w // block))


def _static(x) -> bool:
    return x.ty.shape is not None and all(isinstance(d, tvm.tirx.IntImm) for d in x.ty.shape.values)


class Split(stock.Split):
    @classmethod
    def get_converter(cls, opset):
        impl = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            sizes = attr.get("split")
            if len(inputs) > 1 and inputs[1] is not None:
                sizes = constant_value(inputs[1], params)
            if sizes is None or 0 not in list(np.asarray(sizes).reshape(-1)) or not _static(inputs[0]):
                return impl(bb, inputs, attr, params)
            x, dims = inputs[0], shape(inputs[0])
            axis = attr.get("axis", 0)
            axis = axis + len(dims) if axis < 0 else axis
            parts, start = [], 0
            for size in np.asarray(sizes).reshape(-1).tolist():
                if size:
                    parts.append(relax.op.strided_slice(x, [axis], [start], [start + size]))
                else:  # an empty part (TVM cannot lower a loop over nothing): a constant without elements
                    empty = [0 if a == axis else d for a, d in enumerate(dims)]
                    parts.append(relax.const(np.zeros(empty, dtype(x)), dtype(x)))
                start += size
            return relax.Tuple(parts)

        return convert


class Reshape(stock.Reshape):
    @classmethod
    def get_converter(cls, opset):
        impl = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            target = constant_value(inputs[1], params) if len(inputs) > 1 else None
            if not attr.get("allowzero", 0) or target is None or 0 not in target.tolist() or \
                    not _static(inputs[0]):
                return impl(bb, inputs, attr, params)
            out = np.empty(shape(inputs[0]), np.int8).reshape([int(v) for v in target.reshape(-1)]).shape
            # relax's reshape reads a 0 as "copy this dim" whatever is asked; the result holds no element anyway
            return relax.const(np.zeros(out, dtype(inputs[0])), dtype(inputs[0]))

        return convert


class Upsample(stock.Upsample):
    """Opset 9 made `scales` an input (the stock converter reads the attribute of opset 7), and nearest takes the
    floor of the asymmetric source coordinate (ONNX's reference; the stock call rounds it)."""

    @classmethod
    def _impl_v9(cls, bb, inputs, attr, params):
        scales = attr.get("scales")
        if len(inputs) > 1 and inputs[1] is not None:
            scales = constant_value(inputs[1], params)
        if scales is None:
            raise ValueError("Upsample needs constant scales (an initializer of the model)")
        scales = [float(v) for v in np.asarray(scales).reshape(-1)]
        dims = shape(inputs[0])
        if len(dims) != 4 or scales[:2] != [1.0, 1.0]:
            raise ValueError(f"Upsample of {len(dims)}-D input with scales {scales}: TVM resizes the last two axes "
                             "of 4-D tensors only")
        mode = attr.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        size = [int(d * s) for d, s in zip(dims[2:], scales[2:])]
        return relax.op.image.resize2d(inputs[0], relax.ShapeExpr(size), roi=None, layout="NCHW",
                                       method="nearest_neighbor" if mode == "nearest" else mode,
                                       coordinate_transformation_mode="asymmetric", rounding_method="floor")


class TensorScatter(OnnxOpConverter):
    """The KV-cache update of opset 24 (no stock converter): `update`'s sequence written into `past_cache` along
    `axis` from each batch row's write index (linear; circular: modulo the cache length). Written as a gather
    (each cache position reads the update position that lands on it, if any), so no two threads write one place:
    out[b, .., s, ..] = update[b, .., j, ..] where j = s - write_indices[b] (mod max length when circular) lies in
    [0, sequence length), else past_cache[b, .., s, ..]."""

    @classmethod
    def _impl_v24(cls, bb, inputs, attr, params):
        past, update = inputs[0], inputs[1]
        dims, length = shape(past), shape(update)
        rank = len(dims)
        axis = attr.get("axis", -2) % rank
        longest, count = dims[axis], length[axis]
        along = [1] * rank
        along[axis] = longest
        positions = relax.const(np.arange(longest, dtype="int64").reshape(along), "int64")
        if len(inputs) > 2 and inputs[2] is not None:
            starts = relax.op.reshape(relax.op.astype(inputs[2], "int64"), [dims[0]] + [1] * (rank - 1))
            j = bb.normalize(positions - starts)
        else:
            j = positions
        mode = attr.get("mode", b"linear")
        if (mode.decode() if isinstance(mode, bytes) else mode) == "circular":
            j = bb.normalize(relax.op.floor_mod(j, relax.const(longest, "int64")))
        valid = relax.op.logical_and(relax.op.greater_equal(j, relax.const(0, "int64")),
                                     relax.op.less(j, relax.const(count, "int64")))
        index = relax.op.broadcast_to(relax.op.clip(j, 0, count - 1), dims)
        gathered = relax.op.gather_elements(update, bb.normalize(index), axis)
        return relax.op.where(relax.op.broadcast_to(valid, dims), gathered, past)


class Col2Im(OnnxOpConverter):
    """Col2Im (no stock converter), N-D: each kernel offset's column, read at the block each image pixel falls on
    (constant indices; pixels no block of that offset covers read 0), summed over the offsets. A gather per offset
    instead of a scatter-add: no two threads write one pixel, and the sum runs in offset order as ONNX's
    reference accumulates it."""

    @classmethod
    def _impl_v18(cls, bb, inputs, attr, params):
        x = inputs[0]
        image, block = constant_value(inputs[1], params), constant_value(inputs[2], params)
        if image is None or block is None:
            raise ValueError("Col2Im needs constant image_shape and block_shape (initializers of the model)")
        image, block = [int(v) for v in image.reshape(-1)], [int(v) for v in block.reshape(-1)]
        rank = len(image)
        dilations = list(attr.get("dilations", [1] * rank))
        pads = list(attr.get("pads", [0] * 2 * rank))
        strides = list(attr.get("strides", [1] * rank))
        n, channels, length = shape(x)
        offsets = int(np.prod(block))
        grid = [(image[d] + pads[d] + pads[rank + d] - (dilations[d] * (block[d] - 1) + 1)) // strides[d] + 1
                for d in range(rank)]
        if int(np.prod(grid)) != length:
            raise ValueError(f"Col2Im: {length} blocks in the input, the attributes give a grid of {grid}")
        pixels = np.indices(image).reshape(rank, -1)  # (rank, P)
        cols = bb.normalize(relax.op.reshape(x, (n, channels // offsets, offsets, length)))
        total = None
        for k, offset in enumerate(np.ndindex(*block)):
            at = pixels + np.array([pads[d] - offset[d] * dilations[d] for d in range(rank)]).reshape(-1, 1)
            step = np.array(strides).reshape(-1, 1)
            where = at // step
            inside = np.all((at % step == 0) & (where >= 0) & (where < np.array(grid).reshape(-1, 1)), axis=0)
            index = np.ravel_multi_index(tuple(np.clip(where, 0, np.array(grid).reshape(-1, 1) - 1)), grid)
            if not inside.any():
                continue
            column = relax.op.squeeze(bb.normalize(relax.op.strided_slice(cols, [2], [k], [k + 1])), [2])
            picked = relax.op.take(bb.normalize(column), relax.const(index.astype("int64")), axis=2)
            term = bb.normalize(relax.op.where(relax.const(inside), picked, relax.const(0, dtype(x))))
            total = term if total is None else bb.normalize(total + term)
        if total is None:
            total = relax.op.zeros((n, channels // offsets, int(np.prod(image))), dtype(x))
        return relax.op.reshape(total, (n, channels // offsets, *image))


CONVERTERS = {"Col2Im": Col2Im, "TensorScatter": TensorScatter, "Upsample": Upsample,
              "ReverseSequence": ReverseSequence, "CenterCropPad": CenterCropPad, "SpaceToDepth": SpaceToDepth,
              "Split": Split, "Reshape": Reshape}
