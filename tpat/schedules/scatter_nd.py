"""ScatterND with one GPU thread per updated element.

TVM's GPU ScatterND (`topi.gpu.scatter_nd`) parallelises only over the elements of one update slice and walks the
index tuples serially: ONNX ScatterND of (32,600,3) indices into (32,128,128,256) ran a single block of 1024
threads for 19200 iterations, 10x slower than copying the tensor. Here the scatter is a flat grid over (index
tuple, slice element), after the copy of `data` into the output:

- `none` (ONNX's default): plain stores. ONNX leaves duplicate indices undefined for it, as do onnxruntime's and
  PyTorch's GPU kernels, so any order is valid.
- `add`: `atomicAdd`, which is order-independent up to float rounding (fp32, fp16, bf16, fp64, int32).
- `mul`/`min`/`max` and other dtypes keep TVM's kernel (no native atomic for them).
"""

from __future__ import annotations

from .stock import stock_legalization

ATOMIC_ADD_DTYPES = ("float32", "float16", "bfloat16", "float64", "int32")
THREADS = 256


def legalize_scatter_nd(bb, call):
    reduction = str(call.attrs.reduction)
    dtype = str(call.args[0].ty.dtype)
    if reduction not in ("update", "add") or (reduction == "add" and dtype not in ATOMIC_ADD_DTYPES):
        return stock_legalization(bb, call)
    return bb.call_te(scatter_nd_flat, call.args[0], call.args[1], call.args[2], reduction)


def scatter_nd_flat(data, indices, updates, reduction: str):
    """indices: (Y_0..Y_{K-1}, M) as ONNX has them; updates: (Y_0..Y_{K-1}, X_M..X_{N-1})."""
    from tvm import te, tirx
    from tvm.backend.cuda.op import cuda_atomic_add
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.utils import ceil_div

    depth = int(indices.shape[-1])

    def gen_ir(data_ptr, indices_ptr, updates_ptr, out_ptr):
        tuples = _product(indices_ptr.shape[:-1])
        slice_len = _product(data_ptr.shape[depth:])
        total = _product(data_ptr.shape)
        with IRBuilder() as ib:
            with T.seq_scope():
                # flat 1-D views: plain offsets (no div/mod back into N-d indices), vector accesses for the copy
                data, idx, upd, out = (
                    T.buffer_proxy(T.decl_buffer((_product(b.shape),), b.dtype, data=b.data))
                    for b in (data_ptr, indices_ptr, updates_ptr, out_ptr))
                lanes = _copy_lanes(data_ptr)
                chunks = total // lanes
                with _grid(ceil_div(chunks, THREADS)) as tid:  # the copy of data: 16-byte vectors
                    with T.If(tid < chunks):
                        with T.Then():
                            if lanes == 1:
                                out[tid] = data[tid]
                            else:
                                span = tirx.Ramp(tid * lanes, 1, lanes)
                                out[span] = data[span]
                work = tuples * slice_len
                with _grid(ceil_div(work, THREADS)) as tid:
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
                            value = upd[tid]
                            if reduction == "update":
                                out[offset] = value
                            else:
                                T.evaluate(cuda_atomic_add(tirx.address_of(out[offset]), value))
            return ib.get()

    out_buf = tirx.decl_buffer(data.shape, data.dtype, "out_buf", layout=None)
    return te.extern([data.shape], [data, indices, updates],
                     lambda ins, outs: gen_ir(ins[0], ins[1], ins[2], outs[0]),
                     dtype=data.dtype, out_buffers=[out_buf], name="scatter_nd_flat.gpu", tag="scatter_nd.gpu")


def _copy_lanes(buf) -> int:
    """Elements per 16-byte vector when the element count is surely a multiple of it, else 1."""
    from ..ir.dtypes import BY_NAME
    from .analysis import static_factor

    dtype = BY_NAME.get(str(buf.dtype))
    if dtype is None or dtype.name not in ("float32", "int32", "float16", "bfloat16"):
        return 1
    lanes = 16 // dtype.itemsize
    return lanes if static_factor(buf.shape) % lanes == 0 else 1


def _product(dims):
    total = 1
    for d in dims:
        total = total * d
    return total


def _grid(blocks):
    """A 1-D launch of `blocks` x THREADS threads; yields the global thread index."""
    import contextlib

    from tvm import te
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.math import cast

    @contextlib.contextmanager
    def frame():
        bx = te.thread_axis("blockIdx.x")
        tx = te.thread_axis("threadIdx.x")
        with T.frame_scope([T.attr(bx, "thread_extent", cast(blocks, "int32")),
                            T.attr(tx, "thread_extent", THREADS)]):
            yield bx.var.astype("int64") * THREADS + tx.var.astype("int64")

    return frame()
