"""ScatterElements with one GPU thread per update, atomics for the reductions.

TVM's GPU ScatterElements (`topi.gpu.scatter_elements`) gives a thread to each position *across* the scatter
axis and walks the axis serially: a GNN aggregation of 40,000 messages onto 10,000 nodes (axis 0, 64 features) ran
64 threads, each looping over all 40,000 messages — about 23 ms on an H200 where torch's `scatter_reduce` takes
0.15 ms. Here the scatter is a flat grid over every element of `indices` after the copy of `data` into the output:
thread t reads indices[t] and updates[t], replaces its coordinate on the axis by the index (negative ones wrap, as
ONNX allows) and updates that element of the output — a plain store for `none` (duplicates are undefined in ONNX),
an atomic one for add/mul/min/max (`atomics.py`), for every dtype with an atomic form; others keep TVM's kernel.
"""

from __future__ import annotations

from . import atomics
from .flat_kernel import THREADS, copy, copy_lanes, flat, grid, product
from .stock import stock_legalization


def legalize_scatter_elements(bb, call):
    reduction = str(call.attrs.reduction)
    reduction = "update" if reduction == "none" else reduction
    if not atomics.supported(reduction, str(call.args[0].ty.dtype)):
        return stock_legalization(bb, call)
    return bb.call_te(scatter_elements_flat, call.args[0], call.args[1], call.args[2], int(call.attrs.axis),
                      reduction, atomics.on_gpu(), primfunc_name_hint="scatter_elements_flat")


def scatter_elements_flat(data, indices, updates, axis: int, reduction: str, gpu: bool = True):
    """data, indices, updates as ONNX has them (indices and updates of one shape, no larger than data's)."""
    from tvm import te, tirx
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.utils import ceil_div

    rank = len(data.shape)
    axis = axis % rank

    def gen_ir(data_ptr, indices_ptr, updates_ptr, out_ptr):
        work = product(indices_ptr.shape)
        with IRBuilder() as ib:
            with T.seq_scope():
                data_f, idx, upd, out = (flat(b) for b in (data_ptr, indices_ptr, updates_ptr, out_ptr))
                copy(data_f, out, product(data_ptr.shape), copy_lanes(data_ptr), gpu)
                with grid(ceil_div(work, THREADS), gpu) as tid:
                    with T.If(tid < work):
                        with T.Then():
                            atomics.update(out, _target_offset(data_ptr, indices_ptr, idx, tid, axis), upd[tid],
                                           reduction, gpu, str(data_ptr.dtype))
            return ib.get()

    out_buf = tirx.decl_buffer(data.shape, data.dtype, "out_buf", layout=None)
    return te.extern([data.shape], [data, indices, updates],
                     lambda ins, outs: gen_ir(ins[0], ins[1], ins[2], outs[0]),
                     dtype=data.dtype, out_buffers=[out_buf], name="scatter_elements_flat.gpu",
                     tag="scatter_elements.gpu")


def _target_offset(data, indices, idx, tid, axis: int):
    """The flat offset in the output that update `tid` lands on: its own coordinates (unravelled over the shape of
    `indices`), the one on `axis` replaced by indices[tid]."""
    from tvm import tirx

    offset, stride, rest = 0, 1, tid
    for dim in reversed(range(len(data.shape))):
        extent = indices.shape[dim]
        coord = rest % extent if dim else rest
        rest = rest // extent
        if dim == axis:
            coord = idx[tid].astype("int64")
            coord = tirx.Select(coord < 0, coord + data.shape[dim], coord)
        offset = offset + coord * stride
        stride = stride * data.shape[dim]
    return offset
