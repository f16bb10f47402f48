"""CumSum along the last axis: a block per row, one pass (the row read once, written once).

TVM's GPU CumSum (`gpu_2d_continuous_cumsum`, DispatchSortScan) is a three-kernel hierarchy: block sums, a scan of
them, then a second read of the input to add the offsets, plus a temporary in global memory. Here a block of
THREADS threads walks its row in tiles of THREADS * PER_THREAD elements: each thread loads PER_THREAD consecutive
elements and scans them in registers, a warp scans its threads' totals with shuffles, the block adds the totals of
the warps before each warp (shared memory, WARPS values) and the running total of the tiles before; the result is
stored and the next tile starts from the tile's total. Sums accumulate in float32 (as torch does for half).

Applies to an inclusive CumSum over the last axis of float data; other forms keep TVM's kernels (`sort_scan.py`
dispatches it ahead of them). On a CPU target (tests compile it for LLVM) each row is one thread.
"""

from __future__ import annotations

from .thread_rows import thread_rows

THREADS = 256
WARP = 32
PER_THREAD = 4  # consecutive elements a thread: a warp reads 512 contiguous bytes of fp32 per step
FLOAT_DTYPES = ("float32", "float16", "bfloat16")


def cumsum_call(bb, call):
    """The call of tpat's kernel for a relax.cumsum `call`, or None where its form does not apply."""
    from . import atomics

    data = call.args[0]
    attrs = call.attrs
    ndim = len(data.ty.shape)
    axis = int(attrs.axis) if attrs.axis is not None else None
    out_dtype = str(attrs.dtype) if attrs.dtype is not None else str(data.ty.dtype)
    if (str(data.ty.dtype) not in FLOAT_DTYPES or out_dtype != str(data.ty.dtype) or bool(attrs.exclusive)
            or axis not in (-1, ndim - 1) or ndim == 0):
        return None
    return bb.call_te(cumsum_rows, data, atomics.on_gpu())


def cumsum_rows(data, gpu: bool = True):
    """Inclusive prefix sums of each row of `data` (rows along its last axis)."""
    from tvm import te, tirx
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T

    from .flat_kernel import product

    threads = THREADS if gpu else 1
    warps = max(threads // WARP, 1)

    def gen_ir(data_ptr, out_ptr):
        n = data_ptr.shape[-1]
        rows = product(data_ptr.shape[:-1])
        tile = threads * PER_THREAD
        zero = tirx.const(0.0, "float32")
        with IRBuilder() as ib:
            with T.seq_scope():
                src = T.decl_buffer((rows * n,), data_ptr.dtype, data=data_ptr.data)
                dst = T.decl_buffer((rows * n,), out_ptr.dtype, data=out_ptr.data)
                with thread_rows(rows, threads, 1, gpu) as (row, tid):
                    vals = T.decl_buffer([PER_THREAD], "float32", scope="local")
                    carry = T.decl_buffer([1], "float32", scope="local")
                    scan = T.decl_buffer([1], "float32", scope="local")
                    up = T.decl_buffer([1], "float32", scope="local")
                    before = T.decl_buffer([1], "float32", scope="local")
                    total = T.decl_buffer([1], "float32", scope="local")
                    warp_sums = T.decl_buffer([warps], "float32", scope="shared" if gpu else "local")
                    lane = tid % WARP if gpu else tid
                    warp = tid // WARP if gpu else tid
                    base = row * n
                    T.buffer_store(carry, zero, [0])
                    with T.serial(0, tirx.indexdiv(n + (tile - 1), tile)) as t:
                        first = t * tile + tid * PER_THREAD
                        for i in range(PER_THREAD):  # loads, then the thread's own scan in registers
                            j = first + i
                            T.buffer_store(vals, tirx.if_then_else(
                                j < n, src[base + tirx.min(j, n - 1)].astype("float32"), zero), [i])
                        for i in range(1, PER_THREAD):
                            T.buffer_store(vals, vals[i] + vals[i - 1], [i])
                        T.buffer_store(scan, vals[PER_THREAD - 1], [0])
                        if gpu:  # inclusive scan of the threads' totals over the warp: every lane shuffles
                            mask = tirx.const(0xFFFFFFFF, "uint32")
                            offset = 1
                            while offset < WARP:
                                T.buffer_store(up, tirx.op.tvm_warp_shuffle_up(mask, scan[0], offset, WARP,
                                                                                 WARP), [0])
                                T.buffer_store(scan, tirx.Select(lane >= offset, scan[0] + up[0], scan[0]), [0])
                                offset *= 2
                            with T.If(lane == WARP - 1):
                                with T.Then():
                                    T.buffer_store(warp_sums, scan[0], [warp])
                            # the lanes before this one: the scan one lane up (not scan - own total: exact)
                            T.buffer_store(up, tirx.op.tvm_warp_shuffle_up(mask, scan[0], 1, WARP, WARP), [0])
                            T.buffer_store(scan, tirx.Select(lane >= 1, up[0], zero), [0])
                            _sync()
                        else:
                            T.buffer_store(warp_sums, scan[0], [0])
                            T.buffer_store(scan, zero, [0])
                        T.buffer_store(before, zero, [0])
                        T.buffer_store(total, zero, [0])
                        for w in range(warps):  # the warps before this one, and the whole tile
                            T.buffer_store(before, tirx.Select(warp > w, before[0] + warp_sums[w], before[0]), [0])
                            T.buffer_store(total, total[0] + warp_sums[w], [0])
                        # this thread's elements start after: the tiles before, the warps before, the lanes before
                        T.buffer_store(before, carry[0] + before[0] + scan[0], [0])
                        for i in range(PER_THREAD):
                            j = first + i
                            with T.If(j < n):
                                with T.Then():
                                    T.buffer_store(dst, (vals[i] + before[0]).astype(out_ptr.dtype), [base + j])
                        T.buffer_store(carry, carry[0] + total[0], [0])
                        if gpu:
                            _sync()  # warp_sums is rewritten by the next tile
            return ib.get()

    out = tirx.decl_buffer(data.shape, data.dtype, "cumsum_out", layout=None)
    return te.extern([data.shape], [data], lambda ins, outs: gen_ir(ins[0], outs[0]), dtype=data.dtype,
                     out_buffers=[out], name="cumsum_rows.gpu", tag="cumsum_rows.gpu")


def _sync():
    import tvm
    from tvm.script.ir_builder import tirx as T

    T.evaluate(tvm.ir.Call("tirx.tvm_storage_sync", [tvm.ir.StringImm("shared")], ret_ty="void"))
