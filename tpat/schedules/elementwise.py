"""Elementwise kernels with 16-byte accesses.

dlight's fallback gives each thread one element: a half-precision GELU then moves 2 bytes per load and per store,
and on an H100 the (64,128,3072) fp16 GELU ran at 38 % of the DRAM roofline. Here each thread handles a vector of
16 bytes of the output (4 fp32, 8 fp16) through a vectorized innermost loop; TVM emits vector loads and stores for
the operands that are contiguous along it. Applies to a function that is one spatial block after inlining, whose
innermost extent is a constant multiple of the vector; otherwise dlight's rule runs. Unit axes (batch 1) count as
absent: the (1,128,3072) GELU used to fall back to one element a thread, 2.06 us against 1.89 now. The vector
accesses need 16-byte aligned tensors, which TensorRT's I/O and activation buffers are (256-byte aligned).

An operand broadcast along the leading axes (a bias, (3072,) against (64, 128, 3072)) was read one element at a
time, at a run-time modulo an element, in the flat layout; such a kernel keeps its last axis apart as a gather
does, (row, column), and stages every contiguous read into registers by 16-byte loads, the bias's included: bias +
GELU (64, 128, 3072) fp16 39.4 -> 35.2 us on an H200 (torch.compile 39.7).
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.ir.prim.expr import IntImm
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from ..ir.dtypes import BY_NAME
from .lane_selects import lane_uniform_selects
from .analysis import (VECTOR_BYTES, at_iteration_point, fused_index_map, inlined_blocks, max_product, same_shape,
                       static_factor, writes_at_iteration_point)

THREADS = 256
LARGE_GRID_VECTORS = 1 << 18  # a grid this many vectors (~ 8 waves of 256-thread blocks on 132 SMs) or larger
VECTOR_DTYPES = ("float32", "float16", "bfloat16", "int32", "int8", "uint8")  # int64 and bool stay scalar


class VectorizedElementwise(GPUScheduleRule):
    """`dim_max` (name -> largest value of each symbolic dim) sizes grids of symbolic size: a gather is large
    (two vectors a thread) when it is large at the declared maxima."""

    def __init__(self, dim_max=None):
        self.dim_max = dict(dim_max or {})

    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        """Each block its own kernel: a function of several independent injective blocks (Split: one per output)
        gets the same vector schedule for each, or none does."""
        found = inlined_blocks(self, lane_uniform_selects(func), target)
        if found is None or not found[1] or not all(info.is_injective() for info in found[1]):
            return None
        sch, infos = found
        blocks = [info.block_rv for info in infos]
        if len(blocks) > 1 and not _independent(sch, blocks):
            return None
        lanes = [self._lanes(sch, block) for block in blocks]
        if None in lanes:
            return None
        for block, block_lanes in zip(blocks, lanes):
            self._schedule(sch, block, block_lanes)
        return sch

    @staticmethod
    def _lanes(sch, block) -> int | None:
        """Elements per 16-byte vector of the block's output, or None when the rule does not apply to it."""
        writes = sch.get(block).writes
        if not writes_at_iteration_point(sch.get(block)) or str(writes[0].source.dtype) not in VECTOR_DTYPES:
            return None
        lanes = VECTOR_BYTES // BY_NAME[str(writes[0].source.dtype)].itemsize
        loops = sch.get_loops(block)
        inner = sch.get(loops[-1]).extent if loops else None
        if lanes < 2 or not isinstance(inner, IntImm) or inner.value % lanes:
            return None
        return lanes

    def _schedule(self, sch, block, lanes: int) -> None:
        writes = sch.get(block).writes
        out_shape = list(writes[0].source.shape)
        inner = sch.get(sch.get_loops(block)[-1]).extent
        vector_reads = [i for i, read in enumerate(sch.get(block).reads)
                        if same_shape(read.source.shape, out_shape) and str(read.source.dtype) in VECTOR_DTYPES
                        and at_iteration_point(sch.get(block), read)]
        per_thread = _vectors_per_thread(vector_reads, out_shape, inner.value, lanes, self.dim_max)
        # staged through registers: vector loads -> scalar math (erf, exp ... have no vector form) -> vector
        # stores. Streaming: flattened to one index, so each thread's slice is a contiguous range. A gather keeps
        # its innermost axis apart, (row, column): the row is found once per thread and a thread's columns are its
        # first column plus a constant, where a flat index would cost a division per element to find them again
        # (and GatherND reloaded its index tuple for every element: 22 loads a thread where 7 do)
        kept = 1 if not vector_reads and len(out_shape) > 1 else 0
        staged = bool(vector_reads) and len(out_shape) > 1 and _broadcast_rows(sch.get(block), out_shape)
        if staged:
            kept, vector_reads = 1, []
        _flatten_block(sch, block, kept)
        store = sch.cache_write(block, 0, "local")
        sch.transform_layout(block, ("write", 0), fused_index_map(out_shape, len(out_shape) - kept))
        _flatten_block(sch, store, kept)
        flat = fused_index_map(out_shape, len(out_shape))
        loads = []
        for i in vector_reads:
            loads.append(sch.cache_read(block, i, "local"))
            sch.transform_layout(block, ("read", i), flat)
            _flatten_block(sch, loads[-1])
        compute_at = None
        if kept and len(sch.get_loops(store)) == 2:
            # a thread's vectors a row's width / per_thread apart: each store instruction of a warp then writes
            # whole 32-byte sectors (adjacent vectors a thread wrote every sector in two 16-byte halves)
            row, column = sch.get_loops(store)
            slot, column, vec = sch.split(column, [per_thread, None, lanes])
            sch.reorder(column, slot)
            bx, tx = sch.split(sch.fuse(row, column), [None, THREADS])
            sch.unroll(slot)
            compute_at = slot
        elif per_thread > 1:
            (column,) = sch.get_loops(store)
            bx, tx, _, vec = sch.split(column, [None, THREADS, per_thread, lanes])
        else:
            (fused,) = sch.get_loops(store)
            bx, tx, vec = sch.split(fused, [None, THREADS, lanes])
        sch.bind(bx, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        sch.vectorize(vec)
        sch.compute_at(block, compute_at or tx, preserve_unit_loops=True)
        if kept:
            _gather_vectors(sch, block, lanes, staged)
        for load in loads:  # (none when per_thread > 1)
            sch.compute_at(load, tx, preserve_unit_loops=True)
            sch.vectorize(sch.get_loops(load)[-1])


def _broadcast_rows(block, out_shape) -> bool:
    """Some operand is read as the output's trailing axes (a bias, (3072,) against (64, 128, 3072)), whole vectors
    a row."""
    return any(0 < len(read.source.shape) < len(out_shape)
               and same_shape(read.source.shape, out_shape[len(out_shape) - len(read.source.shape):])
               for read in block.reads)


def _independent(sch, blocks) -> bool:
    """No block reads what another writes (each is a kernel of its own, in any order)."""
    if any(len(sch.get(block).writes) != 1 for block in blocks):
        return False
    written = [sch.get(block).writes[0].source for block in blocks]  # by identity: TOPI's split names all alike
    return not any(read.source.same_as(out) for block in blocks for read in sch.get(block).reads for out in written)


def _vectors_per_thread(vector_reads, out_shape, inner: int, lanes: int, dim_max=None) -> int:
    """2 for a large gather (no operand read at the output's index, e.g. Resize), else 1.

    A gather's index math (Resize: the output's row and column, two source rows, the taps) is per element, but the
    part that depends on the output row is shared by every element of a thread that lies in one row; the compiler
    hoists it. With TVM's float Resize coordinates, two adjacent vectors a thread cut the (32,32,44,50)->(176,200)
    Resize from 72.1 to 59.6 us on an H100 and (32,64,11,12) from 142 to 113.6 us. With tpat's exact coordinates
    (resize.py) the kernel moved from instruction-bound to store-bound, and adjacent vectors then cost more than
    they saved: each warp store wrote every 32-byte sector in two 16-byte halves (1.6x the L2 write sectors of
    whole ones, ncu). The two vectors now sit half a row apart (`apply`): 56.2 and 96.2 us (90 % and 100 % of the
    DRAM roofline), against 55.7 and 126 us with one vector a thread. Two vectors do not pay for streaming kernels
    (GELU (64,128,3072): 68.5 -> 76.3 us, a warp's loads no longer contiguous) nor for small grids (GatherND of
    600 rows: 1.95 -> 2.37 us, half the threads for a latency-bound kernel); 5 or 10 adjacent vectors a thread
    broke the stores' coalescing (Resize 247 and 364 us). A grid of symbolic size is judged at the declared
    maxima of its dims: OneHot (batch, 26, 1000) with batch up to 4096 took 66 us with one vector a thread at
    batch 2048 on an H200, where its static build (two vectors) took 50."""
    if vector_reads or inner % (2 * lanes):
        return 1
    size = max_product(out_shape, dim_max or {})  # symbolic dims at their declared maxima
    return 2 if (size if size is not None else static_factor(out_shape)) // lanes >= LARGE_GRID_VECTORS else 1


def _gather_vectors(sch, block, lanes: int, staged: bool = False) -> None:
    """A gather's elements (the block's loops under blockIdx/threadIdx) computed as vectors where every load is
    provably a whole aligned vector or the same for all its elements (GatherND: the index tuple once, the gathered
    slice in 16-byte loads); unrolled otherwise (Resize's taps), so the compiler can still share what the elements
    have in common, and always where the elements are `staged` (a broadcast operand's kernel: its math, erf and
    the like, has no vector form, and TVM turns a vector loop it cannot vectorize back into a serial loop)."""
    elements = sch.get_loops(block)[-1]  # under threadIdx: this loop, after unit loops of the row
    # the widest vector whose values all have CUDA types: an fp16 OneHot's 8 lanes compare int64 (no longlong8),
    # so it computes two halves of 4 (still one 16-byte store)
    width = next((w for w in (lanes, 4) if w <= lanes and _vector_types_exist(sch.get(block), w)), None)
    if staged or width is None or not _loads_are_vectors(sch.get(block), width):
        width = lanes
        vector = False
        _contiguous_reads_in_vectors(sch, block, lanes)
    else:
        vector = True
    loops = sch.split(elements, [None, width]) if sch.get(elements).extent.value > width else [elements]
    if vector:
        sch.vectorize(loops[-1])
        loops = loops[:-1]
    for loop in loops:
        sch.unroll(loop)


def _contiguous_reads_in_vectors(sch, block, lanes: int) -> None:
    """A gather whose elements are not one vector (GatherElements: each reads the data at its own loaded index)
    still reads its index tensor contiguously, a thread's `lanes` elements in a row: that tensor is staged into
    registers by 16-byte loads (two int64 a load) instead of one scalar load an element."""
    import tvm_ffi
    from tvm.ir import TensorLoad

    body = sch.get(block)
    column = body.iter_vars[-1].var
    loads = []
    tvm_ffi.structural_walk(body.body, (TensorLoad, loads.append))
    contiguous = {load.source for load in loads if _moves_by_vectors(load, column, lanes) == "vector"}
    parent = sch.get_loops(block)[-2]
    for i, read in enumerate(body.reads):
        dtype = BY_NAME.get(str(read.source.dtype))
        if read.source not in contiguous or dtype is None or read.source.scope() != "global":
            continue
        cache = sch.cache_read(block, i, "local")
        sch.compute_at(cache, parent, preserve_unit_loops=True)
        inner = sch.get_loops(cache)[-1]
        width = max(1, VECTOR_BYTES // dtype.itemsize)
        if width < lanes:
            outer, inner = sch.split(inner, [None, width])
            sch.unroll(outer)
        sch.vectorize(inner)


def _vector_types_exist(block, lanes: int) -> bool:
    """Every value the block computes fits a CUDA vector type at `lanes` (at most 4 lanes of 64 bits: OneHot's
    frontend computes in fp64, and an fp16 output's 8 lanes of it, float64x8, has no CUDA type)."""
    import tvm_ffi
    from tvm.ir import Expr

    from tvm import tirx
    from tvm.ir import TensorLoad

    if lanes <= 4:
        return True
    # a load's indices are not vectorised values (a vector load is addressed by its first element, whatever the
    # index type): each load counts as a value of its own type, so 64-bit index math (a dynamic dim's int64 shape)
    # does not keep a half-precision copy at 2-byte loads
    # and a vector's start (col // lanes, lane_selects.py) is one scalar for the whole vector: only values that
    # move with the column become vectors
    column = block.iter_vars[-1].var

    def vector_start(div):
        uniform = div.a.same_as(column) and isinstance(div.b, tirx.IntImm) and div.b.value % lanes == 0
        return tirx.Var("start", div.ty) if uniform else div

    stored = getattr(block.body, "value", block.body)  # the stored value, not the store's own indices
    value = tvm_ffi.structural_map(stored, [(TensorLoad, lambda load: tirx.Var("load", load.ty)),
                                            (tirx.FloorDiv, vector_start)])
    exprs = []
    tvm_ffi.structural_walk(value, (Expr, exprs.append))
    return all("64" not in str(getattr(e, "ty", "")) or not _uses(e, column) for e in exprs)


def _uses(expr, var) -> bool:
    import tvm_ffi
    from tvm import tirx

    found = []
    tvm_ffi.structural_walk(expr, (tirx.Var, lambda v: found.append(v.same_as(var))))
    return any(found)


def _loads_are_vectors(block, lanes: int) -> bool:
    """Every buffer load of `block`, flattened, either does not move with the last block var (the column) or moves
    by exactly one element per column and starts each vector on a multiple of `lanes` (16-byte aligned, as TVM's
    vector loads assume). Loads that depend on loaded values (indices) count as unknown multiples of their
    strides, which is what makes GatherND's slice provably aligned and a Slice's offset not."""
    import tvm_ffi
    from tvm.ir import TensorLoad

    column = block.iter_vars[-1].var
    loads = []
    tvm_ffi.structural_walk(block.body, (TensorLoad, loads.append))
    return all(_moves_by_vectors(load, column, lanes) is not None for load in loads)


def _moves_by_vectors(load, column, lanes: int) -> str | None:
    """"uniform" when `load`, flattened, does not move with `column` (GatherND's indices), "vector" when it moves by
    one element per column from a multiple of `lanes`, None otherwise."""
    import tvm_ffi
    from tvm import sym, tirx

    analyzer = sym.Analyzer()
    m = tirx.Var("m", column.ty)

    def substitute(expr, value):
        return tvm_ffi.structural_map(expr, (tirx.Var, lambda var: value if var.same_as(column) else var))

    shape = list(load.source.shape)
    if len(load.indices) != len(shape):
        return None
    # strides may be symbolic (a dynamic dim): the modular set of the start then keeps their constant factors
    offset, stride = tirx.const(0, column.ty), tirx.const(1, column.ty)
    for index, dim in zip(reversed(list(load.indices)), reversed(shape)):
        offset = offset + tirx.Cast(column.ty, index) * stride
        stride = stride * tirx.Cast(column.ty, dim)
    step = analyzer.simplify(substitute(offset, column + 1) - offset)
    if isinstance(step, tirx.IntImm) and step.value == 0:
        return "uniform"
    start = analyzer.modular_set(substitute(offset, m * lanes))
    if not (isinstance(step, tirx.IntImm) and step.value == 1) or start.coeff % lanes or start.base % lanes:
        return None
    return "vector"


def _flatten_block(sch, block, kept: int = 0) -> None:
    """One flat iteration for `block`, or (row, last axis) with kept=1, over the block's own iter vars (a unit
    axis of the buffer may have none)."""
    extents = [iv.dom.extent for iv in sch.get(block).iter_vars]
    sch.transform_block_layout(block, fused_index_map(extents, max(1, len(extents) - kept)))

