"""Ops of ONNX's ai.onnx.ml domain that are plain tensor math, no stock converter:
- Binarizer: 1 where x > threshold, else 0, in x's dtype;
- ArrayFeatureExtractor: data[..., indices] along the last axis, the indices flattened; a 1-D input gives one row
  (ONNX's reference follows onnxruntime there).
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import const, dtype, shape


class Binarizer(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        x = inputs[0]
        return relax.op.astype(relax.op.greater(x, const(float(attr.get("threshold", 0.0)), x)), dtype(x))


class ArrayFeatureExtractor(OnnxOpConverter):
    @classmethod
    def _impl_v1(cls, bb, inputs, attr, params):
        data, indices = inputs
        count = 1
        for d in shape(indices):
            count *= d
        flat = bb.normalize(relax.op.reshape(indices, (count,)))
        picked = relax.op.take(data, flat, axis=len(shape(data)) - 1)
        dims = shape(data)
        return relax.op.reshape(picked, (1, count) if len(dims) == 1 else (*dims[:-1], count))


CONVERTERS = {"Binarizer": Binarizer, "ArrayFeatureExtractor": ArrayFeatureExtractor}
