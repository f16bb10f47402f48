"""ScatterND with one GPU thread per updated element.

TVM's GPU ScatterND (`topi.gpu.scatter_nd`) parallelises only over the elements of one update slice and walks the
index tuples serially: ONNX ScatterND of (32,600,3) indices into (32,128,128,256) ran a single block of 1024
threads for 19200 iterations, 10x slower than copying the tensor. Here the scatter is a flat grid over (index
tuple, slice element), after the copy of `data` into the output:

- `none` (ONNX's default): plain stores. ONNX leaves duplicate indices undefined for it, as do onnxruntime's and
  PyTorch's GPU kernels, so any order is valid.
- `add`, `mul`, `min`, `max`: an atomic update per element (`atomics.py`: `atomicAdd`, native min/max for
  integers, a compare-and-swap loop otherwise), order-independent up to float rounding.
- dtypes without an atomic form keep TVM's kernel.
"""

from __future__ import annotations

from . import atomics
from .flat_kernel import THREADS, copy, copy_lanes, flat, grid, product
from .stock import stock_legalization

ATOMIC_ADD_DTYPES = atomics.ATOMIC_ADD_DTYPES


def legalize_scatter_nd(bb, call):
    reduction = str(call.attrs.reduction)
    dtype = str(call.args[0].ty.dtype)
    if not atomics.supported(reduction, dtype):
        return stock_legalization(bb, call)
    return bb.call_te(scatter_nd_flat, call.args[0], call.args[1], call.args[2], reduction, atomics.on_gpu())


def scatter_nd_flat(data, indices, updates, reduction: str, gpu: bool = True):
    """indices: (Y_0..Y_{K-1}, M) as ONNX has them; updates: (Y_0..Y_{K-1}, X_M..X_{N-1})."""
    from tvm import te, tirx
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.utils import ceil_div

    depth = int(indices.shape[-1])

    def gen_ir(data_ptr, indices_ptr, updates_ptr, out_ptr):
        tuples = product(indices_ptr.shape[:-1])
        slice_len = product(data_ptr.shape[depth:])
        total = product(data_ptr.shape)
        with IRBuilder() as ib:
            with T.seq_scope():
                # flat 1-D views: plain offsets (no div/mod back into N-d indices), vector accesses for the copy
                data, idx, upd, out = (flat(b) for b in (data_ptr, indices_ptr, updates_ptr, out_ptr))
                copy(data, out, total, copy_lanes(data_ptr), gpu)  # the copy of data: 16-byte vectors
                work = tuples * slice_len
                with grid(ceil_div(work, THREADS), gpu) as tid:
                    with T.If(tid < work):
                        with T.Then():
                            i = tid // slice_len
                            j = tid % slice_len
                            offset = j
                            stride = slice_len
                            for axis in reversed(range(depth)):
                                coord = idx[i * depth + axis].astype("int64")
                                dim = data_ptr.shape[axis]
                                coord = tirx.Select(coord < 0, coord + dim, coord)  # ONNX allows negative indices
                                offset = offset + coord * stride
                                stride = stride * dim
                            atomics.update(out, offset, upd[tid], reduction, gpu, str(data_ptr.dtype))
            return ib.get()

    out_buf = tirx.decl_buffer(data.shape, data.dtype, "out_buf", layout=None)
    return te.extern([data.shape], [data, indices, updates],
                     lambda ins, outs: gen_ir(ins[0], ins[1], ins[2], outs[0]),
                     dtype=data.dtype, out_buffers=[out_buf], name="scatter_nd_flat.gpu", tag="scatter_nd.gpu")
