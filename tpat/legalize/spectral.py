"""DFT (no stock converter) as matrix products with constant Fourier matrices: a length-L transform along one
axis of at most a few thousand points is a (.., Lin) x (Lin, K) product per real/imaginary part, which the GPU
does at matmul speed and exactly as ONNX's reference (numpy.fft) defines it. Forms: forward (K = L, or L // 2 + 1
when onesided), inverse (1/L), and inverse onesided (numpy's irfft: the bins 0 < k < L/2 count twice, the
imaginary parts of bins 0 and L/2 are ignored, the output is real). The input's last dim is 1 (real) or 2
(real, imaginary); the signal is cut or zero-padded to what L needs. The matrices are computed in float64 and the
products run in float32.

STFT: the frames gathered (constant indices: frame f holds samples f * frame_step ..), weighted by the window,
then the DFT above along the frame axis (onesided by default, as ONNX's reference).
"""

from __future__ import annotations

import numpy as np
from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value, dtype, shape

MAX_LENGTH = 4096


def _matrices(length: int, inputs: int, outputs: int, inverse: bool, onesided: bool):
    """(cos part, sin part) [inputs, outputs] of real = R @ a + I @ b and imag = R @ c + I @ d, as (a, b, c, d)."""
    n = np.arange(inputs).reshape(-1, 1)
    k = np.arange(outputs).reshape(1, -1)
    if inverse:  # rows are bins, columns samples
        theta = 2 * np.pi * n * k / length
        cos, sin = np.cos(theta) / length, np.sin(theta) / length
        if onesided:  # irfft: bins strictly between 0 and L/2 stand for their conjugates too
            twice = ((n > 0) & (2 * n < length)).astype(np.float64) + 1.0
            return cos * twice, -sin * twice, None, None
        return cos, -sin, sin, cos
    theta = 2 * np.pi * n * k / length
    return np.cos(theta), np.sin(theta), -np.sin(theta), np.cos(theta)


def _fit(bb, x, axis: int, size: int):
    """x cut or zero-padded to `size` along `axis`."""
    have = shape(x)[axis]
    if have > size:
        return bb.normalize(relax.op.strided_slice(x, [axis], [0], [size]))
    if have < size:
        pads = [0] * (2 * len(shape(x)))
        pads[2 * axis + 1] = size - have
        return bb.normalize(relax.op.nn.pad(x, pads))
    return x


def dft(bb, x, axis: int, length: int | None, inverse: bool, onesided: bool):
    """The DFT of x (.., 1 or 2) along `axis` (not the last), in ONNX's layout."""
    dims = shape(x)
    rank = len(dims)
    axis = axis % rank
    if axis == rank - 1:
        raise ValueError("DFT along the last axis: that axis holds the real and imaginary parts")
    out = dtype(x)
    xf = bb.normalize(relax.op.astype(x, "float32")) if out != "float32" else x
    if length is None:
        length = 2 * (dims[axis] - 1) if inverse and onesided else dims[axis]
    if length > MAX_LENGTH:
        raise ValueError(f"DFT of length {length}: tpat's matrix form takes up to {MAX_LENGTH} points")
    used = length // 2 + 1 if inverse and onesided else length
    bins = length // 2 + 1 if onesided and not inverse else length
    order = [a for a in range(rank - 1) if a != axis] + [axis]  # the transformed axis last, the channel dropped
    back = list(np.argsort(order + [rank - 1]))

    def part(index):
        p = relax.op.strided_slice(xf, [rank - 1], [index], [index + 1])
        p = relax.op.permute_dims(bb.normalize(relax.op.squeeze(bb.normalize(p), [rank - 1])), order)
        return _fit(bb, bb.normalize(p), rank - 2, used)

    real = part(0)
    imag = part(1) if dims[-1] == 2 else None
    a, b, c, d = _matrices(length, used, bins, inverse, onesided)

    def product(m, n):
        y = relax.op.matmul(real, relax.const(m.astype("float32")))
        if imag is not None:
            y = y + relax.op.matmul(imag, relax.const(n.astype("float32")))
        return relax.op.expand_dims(bb.normalize(y), [rank - 1])

    parts = [product(a, b)] if c is None else [product(a, b), product(c, d)]
    y = relax.op.concat(parts, axis=rank - 1) if len(parts) == 2 else parts[0]
    y = relax.op.permute_dims(bb.normalize(y), [int(v) for v in back])
    return relax.op.astype(bb.normalize(y), out) if out != "float32" else y


class DFT(OnnxOpConverter):
    @classmethod
    def _impl_v17(cls, bb, inputs, attr, params):
        return cls._convert(bb, inputs, attr, params, attr.get("axis", 1))

    @classmethod
    def _impl_v20(cls, bb, inputs, attr, params):
        axis = -2
        if len(inputs) > 2 and inputs[2] is not None:
            value = constant_value(inputs[2], params)
            if value is None:
                raise ValueError("DFT needs a constant axis (an initializer of the model)")
            axis = int(value.reshape(-1)[0])
        return cls._convert(bb, inputs, attr, params, axis)

    @classmethod
    def _convert(cls, bb, inputs, attr, params, axis):
        length = None
        if len(inputs) > 1 and inputs[1] is not None:
            value = constant_value(inputs[1], params)
            if value is None:
                raise ValueError("DFT needs a constant dft_length (an initializer of the model)")
            length = int(value.reshape(-1)[0])
        return dft(bb, inputs[0], axis, length, bool(attr.get("inverse", 0)), bool(attr.get("onesided", 0)))


class STFT(OnnxOpConverter):
    @classmethod
    def _impl_v17(cls, bb, inputs, attr, params):
        x, step, window, frame_length = (inputs + [None] * 4)[:4]
        step = constant_value(step, params)
        size = constant_value(frame_length, params) if frame_length is not None else None
        if step is None or (frame_length is not None and size is None):
            raise ValueError("STFT needs constant frame_step and frame_length (initializers of the model)")
        dims = shape(x)
        step = int(step.reshape(-1)[0])
        if size is not None:
            size = int(size.reshape(-1)[0])
        else:
            size = shape(window)[0] if window is not None else dims[-2]
        frames = 1 + (dims[-2] - size) // step
        index = np.arange(frames).reshape(-1, 1) * step + np.arange(size).reshape(1, -1)
        y = bb.normalize(relax.op.take(x, relax.const(index.astype("int64")), axis=len(dims) - 2))
        if window is not None:
            y = bb.normalize(y * relax.op.reshape(window, [1] * (len(dims) - 1) + [size, 1]))
        return dft(bb, y, len(dims) - 1, size, False, bool(attr.get("onesided", 1)))


CONVERTERS = {"DFT": DFT, "STFT": STFT}
