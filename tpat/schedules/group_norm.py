"""GroupNorm (and InstanceNorm, a group per channel) as rows of (image, group): one kernel, fp32 statistics.

TVM's `topi.nn.group_norm` reshapes the input to (N, G, C/G, *spatial), reduces sum and sum of squares per
(N, G) and reshapes the result back: the reshapes hide the rows from the schedule rules (dlight's GeneralReduction
gave each image one block and walked its 32 groups serially: (64, 64, 56, 56) fp16 took 872 us on an H200, 0.03x
torch.compile), and a 16-bit input was cast to float32 by the frontend first, in a kernel of its own.

Here the statistics read the input where it lies — x[n, g * C/G + k, *s] summed over (k, *s), the row of (n, g)
being contiguous — in float32 for 16-bit inputs (ONNX's stash_type 1), the variance from the mean (two passes over
the row, not E[x^2] - E[x]^2), and the output is written in the input's (N, C, *spatial) order; the row rule
(`row_reduction.py`) sees rows of C/G * prod(spatial) elements and an output that is those rows, in order.
Other layouts (channel axis not 1, not every spatial axis reduced) keep TVM's legalization.
"""

from __future__ import annotations

from .stock import stock_legalization

ACCUMULATE = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64"}


def legalize_group_norm(bb, call):
    x, gamma, beta = call.args
    dtype, ndim = str(x.ty.dtype), x.ty.ndim
    attrs = call.attrs
    axes = sorted(int(a) % ndim for a in attrs.axes)
    if dtype not in ACCUMULATE or ndim < 3 or int(attrs.channel_axis) % ndim != 1 or axes != list(range(2, ndim)):
        return stock_legalization(bb, call)
    return bb.call_te(group_norm_rows, x, gamma, beta, int(attrs.num_groups), float(attrs.epsilon),
                      bool(attrs.center), bool(attrs.scale), primfunc_name_hint="group_norm")


def group_norm_rows(x, gamma, beta, groups: int, epsilon: float, center: bool = True, scale: bool = True):
    from tvm import te, tirx

    acc = ACCUMULATE[str(x.dtype)]
    channels = int(x.shape[1])
    per = channels // groups
    spatial = list(x.shape[2:])
    count = per
    for dim in spatial:
        count = count * dim
    # a multiplication by the reciprocal: a division by a constant that is not a power of 2 is a dozen
    # instructions per element in CUDA
    inv_count = (tirx.const(1, acc) / tirx.Cast(acc, count) if not isinstance(count, int)
                 else tirx.const(1.0 / count, acc))

    def wide(value):
        return value if str(value.dtype) == acc else value.astype(acc)

    def element(n, g, k, ks):
        return wide(x[(n, g * per + k, *ks)])

    def row_axes():
        return te.reduce_axis((0, per), name="k"), [te.reduce_axis((0, d), name=f"k{i}")
                                                   for i, d in enumerate(spatial)]

    k, ks = row_axes()
    total = te.compute((x.shape[0], groups), lambda n, g: te.sum(element(n, g, k, ks), axis=[k, *ks]),
                       name="T_group_sum")
    k2, ks2 = row_axes()
    squares = te.compute((x.shape[0], groups), lambda n, g: te.sum(
        _square(element(n, g, k2, ks2) - total[n, g] * inv_count), axis=[k2, *ks2]), name="T_group_squares")

    def normalise(n, c, *s):
        g = tirx.floordiv(c, per)
        value = (wide(x[(n, c, *s)]) - total[n, g] * inv_count) * tirx.rsqrt(
            squares[n, g] * inv_count + tirx.const(epsilon, acc))
        if scale:
            value = value * wide(gamma[c])
        if center:
            value = value + wide(beta[c])
        return value if str(x.dtype) == acc else value.astype(x.dtype)

    return te.compute(x.shape, normalise, name="T_group_norm")


def _square(value):
    return value * value
