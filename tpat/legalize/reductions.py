"""ReduceLogSumExp and ReduceL2 over the trailing axes as one function each: one kernel, a warp per row.

TVM's converters spell them as relax ops — max, exp(x - max), sum, log, add (LogSumExp); multiply, sum, sqrt
(L2) — and FuseOps never fuses a reduction into another reduction nor the elementwise tail after one: LogSumExp
over rows of 1000 was three kernels (0.68x torch.compile on an H200), L2 two. Written as one function here (the
max and the sum of exponentials as two reductions of the same rows, the log and the add per row; the sum of
squares and its root), the row rule (`tpat/schedules/row_reduction.py`, `reduction.py`) gives each row a warp
and keeps every per-row value in registers. 16-bit inputs accumulate in float32, rounded once at the end.
Other axis sets and the empty-axes forms keep the stock converters.
"""

from __future__ import annotations

from tvm.relax.frontend.onnx import onnx_frontend as stock

from .common import constant_value

ACCUMULATE = {"float16": "float32", "bfloat16": "float32", "float32": "float32", "float64": "float64"}


def _trailing_axes(x, inputs, attr, params, opset: int) -> int | None:
    """The number of trailing axes reduced, when the axes are the input's last ones (in any order), else None."""
    ndim = x.ty.ndim
    if opset >= 18:
        axes = None if len(inputs) < 2 or inputs[1] is None else constant_value(inputs[1], params)
        axes = None if axes is None else [int(a) for a in axes.reshape(-1)]
    else:
        axes = attr.get("axes")
    if not axes or ndim < 2 or str(x.ty.dtype) not in ACCUMULATE:
        return None
    norm = sorted({int(a) % ndim for a in axes})
    if norm != list(range(ndim - len(norm), ndim)) or len(norm) == ndim:
        return None
    return len(norm)


def _rows(bb, fn, x, reduced: int, keepdims: bool, name: str):
    return bb.emit_te(fn, x, reduced, keepdims, primfunc_name_hint=name)


def _rows_or_stock(stock_impl, fn, name: str, opset: int, bb, inputs, attr, params):
    """`fn` over the trailing axes as one function when the axes are the last ones, else the stock converter."""
    reduced = _trailing_axes(inputs[0], inputs, attr, params, opset)
    if reduced is None:
        return stock_impl(bb, inputs, attr, params)
    return _rows(bb, fn, inputs[0], reduced, bool(attr.get("keepdims", 1)), name)


class ReduceLogSumExp(stock.ReduceLogSumExp):
    @classmethod
    def _impl_v13(cls, bb, inputs, attr, params):
        return _rows_or_stock(super()._impl_v13, log_sum_exp_rows, "log_sum_exp", 13, bb, inputs, attr, params)

    @classmethod
    def _impl_v18(cls, bb, inputs, attr, params):
        return _rows_or_stock(super()._impl_v18, log_sum_exp_rows, "log_sum_exp", 18, bb, inputs, attr, params)


class ReduceL2(stock.ReduceL2):
    @classmethod
    def _impl_v13(cls, bb, inputs, attr, params):
        return _rows_or_stock(super()._impl_v13, l2_rows, "l2_norm", 13, bb, inputs, attr, params)

    @classmethod
    def _impl_v18(cls, bb, inputs, attr, params):
        return _rows_or_stock(super()._impl_v18, l2_rows, "l2_norm", 18, bb, inputs, attr, params)


def _row_parts(x, reduced: int):
    from tvm import te

    lead = list(x.shape[:len(x.shape) - reduced])
    row = list(x.shape[len(x.shape) - reduced:])

    def axes(tag):
        return [te.reduce_axis((0, d), name=f"{tag}{i}") for i, d in enumerate(row)]

    def out_shape(keepdims):
        return lead + [1] * reduced if keepdims else lead

    return lead, axes, out_shape


def _wide(value, acc):
    return value if str(value.dtype) == acc else value.astype(acc)


def log_sum_exp_rows(x, reduced: int, keepdims: bool):
    from tvm import te, tirx

    acc = ACCUMULATE[str(x.dtype)]
    lead, axes, out_shape = _row_parts(x, reduced)
    k1, k2 = axes("k"), axes("j")
    top = te.compute(lead, lambda *i: te.max(_wide(x[(*i, *k1)], acc), axis=k1), name="T_lse_max")
    total = te.compute(lead, lambda *i: te.sum(te.exp(_wide(x[(*i, *k2)], acc) - top[i]), axis=k2),
                       name="T_lse_sum")

    def result(*i):
        r = i[:len(lead)]
        value = tirx.log(total[r]) + top[r]
        return value if str(x.dtype) == acc else value.astype(x.dtype)

    return te.compute(out_shape(keepdims), result, name="T_log_sum_exp")


def l2_rows(x, reduced: int, keepdims: bool):
    from tvm import te, tirx

    acc = ACCUMULATE[str(x.dtype)]
    lead, axes, out_shape = _row_parts(x, reduced)
    k = axes("k")
    squares = te.compute(lead, lambda *i: te.sum(_wide(x[(*i, *k)], acc) * _wide(x[(*i, *k)], acc), axis=k),
                         name="T_l2_squares")

    def result(*i):
        value = tirx.sqrt(squares[i[:len(lead)]])
        return value if str(x.dtype) == acc else value.astype(x.dtype)

    return te.compute(out_shape(keepdims), result, name="T_l2_norm")


CONVERTERS = {"ReduceLogSumExp": ReduceLogSumExp, "ReduceL2": ReduceL2}
