"""Sums and means of 16-bit floats accumulated in fp32.

TVM's `topi.sum` adds in the tensor's dtype: ReduceSum over 1024 fp16 elements rounded every partial sum to 11
bits, and its result drifted from torch's (which, like onnxruntime, accumulates half in fp32) by more than fp16's
own tolerance. Here the elements are widened as they are read, summed (and divided, for a mean) in fp32, and the
result rounded once: one kernel still (the row rule, `reduction.py`, runs the final rounding in the reduction's
kernel). Other dtypes keep TVM's legalization.
"""

from __future__ import annotations

from .stock import stock_legalization

NARROW = ("float16", "bfloat16")


def legalize_sum(bb, call):
    return _legalize(bb, call, mean=False)


def legalize_mean(bb, call):
    return _legalize(bb, call, mean=True)


def _legalize(bb, call, mean: bool):
    if str(call.args[0].ty.dtype) not in NARROW:
        return stock_legalization(bb, call)
    axis = None if call.attrs.axis is None else [int(a) for a in call.attrs.axis]
    return bb.call_te(sum_accumulated, call.args[0], axis, bool(call.attrs.keepdims), mean,
                      primfunc_name_hint="mean" if mean else "sum")


def sum_accumulated(x, axis, keepdims: bool, mean: bool):
    from tvm import te, tirx, topi

    wide = te.compute(x.shape, lambda *i: x(*i).astype("float32"), name="widened")
    total = topi.sum(wide, axis=axis, keepdims=keepdims)
    if mean:
        rank = len(x.shape)
        reduced = range(rank) if axis is None else sorted(a % rank for a in axis)
        count = 1
        for a in reduced:
            count = count * x.shape[a]
        total = topi.divide(total, tirx.Cast("float32", count))
    return te.compute(total.shape, lambda *i: total(*i).astype(x.dtype), name="rounded")
