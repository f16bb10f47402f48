"""TopK with a small k along the last axis: a warp per row, each lane's best k in registers, merged by shuffles.

TVM's GPU TopK sorts every row completely (a block sort, then merge passes through global temporaries: 8 kernel
launches for (4096,1000), k=8) to keep 8 elements of each 1000. Here one warp owns a row: each lane scans its
strided share of the row (coalesced: the warp reads 32 consecutive elements a step) and keeps its best k so far,
sorted, in registers (a candidate is compared with the lane's k-th best first, so most elements cost one
comparison); then k rounds of a warp-wide arg-best over the lanes' heads (5 xor shuffles) emit the row's
results in order, the winning lane popping its head. The row is read once and the output written once.

Order: ONNX's, the larger value first (smaller with largest=0) and of equal values the lower index first.
Applies to k <= MAX_K (a constant) along the last axis, for float data; other forms keep TVM's kernels
(`sort_scan.py` dispatches it ahead of them).
On a CPU target (tests compile it for LLVM) each row is one serial scan by a single "lane".
"""

from __future__ import annotations

from .thread_rows import thread_rows

MAX_K = 32
WARP = 32
ROWS_PER_BLOCK = 8  # 256 threads
CHUNK = 8  # elements a lane loads before comparing them
FLOAT_DTYPES = ("float32", "float16", "bfloat16")


def topk_call(bb, call):
    """The call of tpat's kernel for a relax.topk `call`, or None where its form does not apply."""
    from . import atomics

    data = call.args[0]
    attrs = call.attrs
    ndim = len(data.ty.shape)
    k = int(attrs.k)
    axis = int(attrs.axis)
    if (str(data.ty.dtype) not in FLOAT_DTYPES or str(attrs.ret_type) != "both" or not 0 < k <= MAX_K
            or axis not in (-1, ndim - 1)):
        return None
    return bb.call_te(topk_rows, data, k, bool(attrs.largest), str(attrs.dtype), atomics.on_gpu())


def topk_rows(data, k: int, largest: bool, index_dtype: str, gpu: bool = True):
    """(values, indices) of the best `k` of each row of `data` (rows along its last axis), best first."""
    from tvm import te, tirx
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T

    from .flat_kernel import product

    out_shape = list(data.shape[:-1]) + [k]
    lanes = WARP if gpu else 1

    def better(av, ai, bv, bi):
        ahead = av > bv if largest else av < bv
        return tirx.Or(ahead, tirx.And(av == bv, ai < bi))

    def gen_ir(data_ptr, values_ptr, indices_ptr):
        n = data_ptr.shape[-1]
        rows = product(data_ptr.shape[:-1])
        worst = tirx.const(float("-inf") if largest else float("inf"), "float32")
        none = tirx.const(2**31 - 1, "int32")
        with IRBuilder() as ib:
            with T.seq_scope():
                src = T.decl_buffer((rows * n,), data_ptr.dtype, data=data_ptr.data)
                vals = T.decl_buffer((rows * k,), values_ptr.dtype, data=values_ptr.data)
                idxs = T.decl_buffer((rows * k,), indices_ptr.dtype, data=indices_ptr.data)
                with thread_rows(rows, WARP, ROWS_PER_BLOCK, gpu) as (row, lane):
                    best_v = T.decl_buffer([k], "float32", scope="local")
                    best_i = T.decl_buffer([k], "int32", scope="local")
                    value = T.decl_buffer([CHUNK], "float32", scope="local")
                    for p in range(k):
                        T.buffer_store(best_v, worst, [p])
                        T.buffer_store(best_i, none, [p])
                    with T.If(row < rows):
                        with T.Then():
                            base = row * n
                            # CHUNK loads a lane in flight before the comparisons that wait for them
                            with T.serial(0, tirx.indexdiv(n + (lanes * CHUNK - 1), lanes * CHUNK)) as chunk:
                                for u in range(CHUNK):
                                    j = (chunk * CHUNK + u) * lanes + lane
                                    T.buffer_store(value, tirx.if_then_else(
                                        j < n, src[base + tirx.min(j, n - 1)].astype("float32"), worst), [u])
                                for u in range(CHUNK):
                                    j = (chunk * CHUNK + u) * lanes + lane
                                    cv, ci = value[u], j.astype("int32")
                                    with T.If(tirx.And(j < n, better(cv, ci, best_v[k - 1], best_i[k - 1]))):
                                        with T.Then():
                                            _insert(best_v, best_i, cv, ci, k, better)
                            for r in range(k):
                                hv, hi = best_v[0], best_i[0]
                                wv, wi = _warp_best(hv, hi, lanes, better)
                                with T.If(lane == 0):
                                    with T.Then():
                                        T.buffer_store(vals, wv.astype(values_ptr.dtype), [row * k + r])
                                        T.buffer_store(idxs, wi.astype(indices_ptr.dtype), [row * k + r])
                                if r + 1 < k:
                                    with T.If(hi == wi):
                                        with T.Then():
                                            for p in range(k - 1):
                                                T.buffer_store(best_v, best_v[p + 1], [p])
                                                T.buffer_store(best_i, best_i[p + 1], [p])
                                            T.buffer_store(best_v, worst, [k - 1])
                                            T.buffer_store(best_i, none, [k - 1])
            return ib.get()

    values = tirx.decl_buffer(out_shape, data.dtype, "topk_values", layout=None)
    indices = tirx.decl_buffer(out_shape, index_dtype, "topk_indices", layout=None)
    return te.extern([out_shape, out_shape], [data], lambda ins, outs: gen_ir(ins[0], outs[0], outs[1]),
                     dtype=[data.dtype, index_dtype], out_buffers=[values, indices], name="topk_rows.gpu",
                     tag="topk_rows.gpu")


def _insert(best_v, best_i, cv, ci, k: int, better) -> None:
    """Insert (cv, ci) into the sorted lists: a compare-exchange down the k slots (all unrolled: registers).
    Each step's test is computed once into a register, before either list is written."""
    from tvm import tirx
    from tvm.script.ir_builder import tirx as T

    carry_v = T.decl_buffer([1], "float32", scope="local")
    carry_i = T.decl_buffer([1], "int32", scope="local")
    old_v = T.decl_buffer([1], "float32", scope="local")
    old_i = T.decl_buffer([1], "int32", scope="local")
    swap = T.decl_buffer([1], "bool", scope="local")
    T.buffer_store(carry_v, cv, [0])
    T.buffer_store(carry_i, ci, [0])
    for p in range(k):
        T.buffer_store(swap, better(carry_v[0], carry_i[0], best_v[p], best_i[p]), [0])
        T.buffer_store(old_v, best_v[p], [0])
        T.buffer_store(old_i, best_i[p], [0])
        T.buffer_store(best_v, tirx.Select(swap[0], carry_v[0], old_v[0]), [p])
        T.buffer_store(best_i, tirx.Select(swap[0], carry_i[0], old_i[0]), [p])
        T.buffer_store(carry_v, tirx.Select(swap[0], old_v[0], carry_v[0]), [0])
        T.buffer_store(carry_i, tirx.Select(swap[0], old_i[0], carry_i[0]), [0])


def _warp_best(v, i, lanes: int, better):
    """The best (value, index) over the warp's lanes, known to every lane (a butterfly of xor shuffles). Every
    lane executes every shuffle (none sits behind a branch), each shuffled value lands in a register first."""
    from tvm import tirx
    from tvm.script.ir_builder import tirx as T

    if lanes == 1:
        return v, i
    cur_v = T.decl_buffer([1], "float32", scope="local")
    cur_i = T.decl_buffer([1], "int32", scope="local")
    other_v = T.decl_buffer([1], "float32", scope="local")
    other_i = T.decl_buffer([1], "int32", scope="local")
    take = T.decl_buffer([1], "bool", scope="local")
    T.buffer_store(cur_v, v, [0])
    T.buffer_store(cur_i, i, [0])
    mask = tirx.const(0xFFFFFFFF, "uint32")
    offset = lanes // 2
    while offset:
        T.buffer_store(other_v, tirx.op.tvm_warp_shuffle_xor(mask, cur_v[0], offset, lanes, lanes), [0])
        T.buffer_store(other_i, tirx.op.tvm_warp_shuffle_xor(mask, cur_i[0], offset, lanes, lanes), [0])
        T.buffer_store(take, better(other_v[0], other_i[0], cur_v[0], cur_i[0]), [0])
        T.buffer_store(cur_v, tirx.Select(take[0], other_v[0], cur_v[0]), [0])
        T.buffer_store(cur_i, tirx.Select(take[0], other_i[0], cur_i[0]), [0])
        offset //= 2
    return cur_v[0], cur_i[0]
