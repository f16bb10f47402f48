"""Det (no stock converter): LU decomposition with partial pivoting, unrolled over the static matrix size, the
determinant being the product of the pivots times the sign of the row swaps (as LAPACK's getrf, which ONNX's
reference calls through numpy.linalg.det). Each step is a few batched elementwise ops over all matrices at once;
the matrix size is static and at most MAX_SIZE (the program grows with it).
"""

from __future__ import annotations

import functools
import operator

import numpy as np
from tvm import relax, tirx
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import dtype

MAX_SIZE = 32


class Det(OnnxOpConverter):
    @classmethod
    def _impl_v11(cls, bb, inputs, attr, params):
        x = inputs[0]
        dims = list(x.ty.shape.values)  # the matrix dims static, the leading ones may be dynamic (batch)
        square = len(dims) >= 2 and all(isinstance(d, tirx.IntImm) for d in dims[-2:]) and \
            int(dims[-2]) == int(dims[-1])
        n = int(dims[-1]) if square else 0
        if not square or n > MAX_SIZE:
            raise ValueError(f"Det of shape {dims}: tpat computes square matrices of a static size up to "
                             f"{MAX_SIZE}x{MAX_SIZE}")
        batch = functools.reduce(operator.mul, dims[:-2], tirx.IntImm("int64", 1))
        kind = dtype(x)
        a = bb.normalize(relax.op.reshape(x, (batch, n, n)))
        rows = relax.const(np.arange(n, dtype="int64").reshape(1, n, 1), "int64")
        zero, one = relax.const(0.0, kind), relax.const(1.0, kind)
        det = None
        for k in range(n):
            column = relax.op.abs(relax.op.strided_slice(a, [1, 2], [k, k], [n, k + 1]))  # (batch, n - k, 1)
            p = bb.normalize(relax.op.argmax(column, axis=1, keepdims=True) + relax.const(k, "int64"))  # (b, 1, 1)
            row_p = relax.op.gather_elements(a, relax.op.broadcast_to(p, (batch, 1, n)), axis=1)
            row_k = relax.op.strided_slice(a, [1], [k], [k + 1])
            a = bb.normalize(relax.op.where(relax.op.equal(rows, relax.const(k, "int64")), row_p,
                                            relax.op.where(relax.op.equal(rows, p), row_k, a)))
            pivot = bb.normalize(relax.op.strided_slice(a, [1, 2], [k, k], [k + 1, k + 1]))  # (batch, 1, 1)
            swapped = relax.op.not_equal(p, relax.const(k, "int64"))
            factor = relax.op.where(swapped, relax.op.negative(pivot), pivot)
            det = factor if det is None else bb.normalize(det * factor)
            if k + 1 < n:
                safe = relax.op.where(relax.op.equal(pivot, zero), one, pivot)  # a zero pivot: det is 0 already
                below = relax.op.strided_slice(a, [1], [k + 1], [n])  # (batch, n - k - 1, n)
                ratio = relax.op.strided_slice(below, [2], [k], [k + 1]) / safe  # (batch, n - k - 1, 1)
                below = bb.normalize(below - ratio * relax.op.strided_slice(a, [1], [k], [k + 1]))
                a = bb.normalize(relax.op.concat([relax.op.strided_slice(a, [1], [0], [k + 1]), below], axis=1))
        return relax.op.reshape(det, dims[:-2])


CONVERTERS = {"Det": Det}
