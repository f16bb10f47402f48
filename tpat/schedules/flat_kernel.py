"""Hand-written flat kernels (TVM `te.extern` IR): a 1-D grid of threads over some work, flat views of tensors.

The scatters (`scatter_nd.py`, `scatter_elements.py`) are such kernels: one thread per element of the work, the
tensors seen as 1-D buffers so offsets are plain sums (no division back into N-d indices) and the copy of `data`
into the output moves 16-byte vectors. On a CPU target the grid is one serial loop (tests run the math on LLVM).
"""

from __future__ import annotations

THREADS = 256


def product(dims):
    total = 1
    for d in dims:
        total = total * d
    return total


def flat(buf):
    """A 1-D view of `buf` (same data) in an IRBuilder frame."""
    from tvm.script.ir_builder import tirx as T

    return T.buffer_proxy(T.decl_buffer((product(buf.shape),), buf.dtype, data=buf.data))


def copy_lanes(buf) -> int:
    """Elements per 16-byte vector when the element count is surely a multiple of it, else 1."""
    from ..ir.dtypes import BY_NAME
    from .analysis import static_factor

    dtype = BY_NAME.get(str(buf.dtype))
    if dtype is None or dtype.name not in ("float32", "int32", "float16", "bfloat16"):
        return 1
    lanes = 16 // dtype.itemsize
    return lanes if static_factor(buf.shape) % lanes == 0 else 1


def copy(src, dst, total, lanes: int, gpu: bool = True) -> None:
    """dst[:total] = src[:total] (flat buffers), `lanes` elements a thread as one vector."""
    from tvm import tirx
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.utils import ceil_div

    lanes = lanes if gpu else 1
    chunks = total // lanes
    with grid(ceil_div(chunks, THREADS), gpu) as tid:
        with T.If(tid < chunks):
            with T.Then():
                if lanes == 1:
                    dst[tid] = src[tid]
                else:
                    span = tirx.Ramp(tid * lanes, 1, lanes)
                    dst[span] = src[span]


def grid(blocks, gpu: bool = True):
    """A 1-D launch of `blocks` x THREADS threads (one serial loop on a CPU); yields the global thread index."""
    import contextlib

    from tvm import te
    from tvm.script.ir_builder import tirx as T
    from tvm.topi.math import cast

    @contextlib.contextmanager
    def frame():
        if not gpu:
            with T.serial(0, cast(blocks, "int64") * THREADS) as tid:
                yield tid
            return
        bx = te.thread_axis("blockIdx.x")
        tx = te.thread_axis("threadIdx.x")
        with T.frame_scope([T.attr(bx, "thread_extent", cast(blocks, "int32")),
                            T.attr(tx, "thread_extent", THREADS)]):
            yield bx.var.astype("int64") * THREADS + tx.var.astype("int64")

    return frame()
