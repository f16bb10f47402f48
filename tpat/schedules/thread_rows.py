"""Rows over GPU threads for the hand-written (te.extern) kernels: CumSum's block per row, TopK's warp per row.

Both build their IR with TVM's ir_builder and need the same frame: the thread axes bound to a grid of rows, each
thread told its row and its lane, or, for TVM's CPU build of the same kernel (no threads), one serial loop over
the rows with lane 0. One frame keeps their launch layouts from drifting apart.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def thread_rows(rows, lanes: int, rows_per_block: int, gpu: bool):
    """(row, lane) of each thread, int64: blocks of `rows_per_block` rows of `lanes` threads each (grid
    ceil(rows / rows_per_block)); on a CPU one serial loop of rows, lane 0."""
    from tvm import te, tirx
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.utils import ceil_div

    if not gpu:
        with T.serial(0, rows) as row:
            yield row, tirx.const(0, "int64")
        return
    bx = te.thread_axis("blockIdx.x")
    tx = te.thread_axis("threadIdx.x")
    if rows_per_block == 1:
        with T.frame_scope([T.attr(bx, "thread_extent", tirx.Cast("int32", rows)),
                            T.attr(tx, "thread_extent", lanes)]):
            yield bx.var.astype("int64"), tx.var.astype("int64")
        return
    with T.frame_scope([T.attr(bx, "thread_extent", ceil_div(rows, rows_per_block).astype("int32")),
                        T.attr(tx, "thread_extent", lanes * rows_per_block)]):
        row = bx.var.astype("int64") * rows_per_block + (tx.var // lanes).astype("int64")
        yield row, (tx.var % lanes).astype("int64")
