"""Reductions to one value per output element (ReduceSum/Mean/Max/Min/L2, ArgMax's partners, any axis set).

dlight's rules left two shapes slow. Rows along the innermost axis (ReduceSum over 1024 elements, keepdims) got a
block of 1024 threads per row — one element a thread, then a block-wide reduction through shared memory: 0.24x
torch.compile on an H200. Reductions over a middle or the first axis got one thread per output, walking the
reduced axis: (batch, 82, 128) over axis 1 at batch 256 is 32 blocks for 132 SMs (0.66x). Two layouts, told
apart by which iteration variable indexes the input's innermost (contiguous) dimension:

- *inner* (a reduced one): a warp per output row, as `row_reduction.py` does for Softmax/LayerNorm — 16-byte
  vectors where the reduced axes are the input's trailing dims and split evenly, lanes interleaved otherwise (a
  non-contiguous axis set such as [1, 3] still reads whole 128-byte lines a warp), several rows a block, and the
  results kept in registers for an epilogue (Mean's division) that runs in the same kernel.
- *outer* (a kept one): a thread per output along the contiguous axis (a warp reads 32 neighbours at once) and the
  reduced axis split over `threadIdx.y` only as far as the outputs leave threads to fill the GPU (each split is
  a shared-memory tree with a barrier a step: (2048, 82, 128) over axis 1, split 16 ways whatever the output
  count, ran at 31 % of the roofline on an H200), each thread's walk unrolled so its loads are in flight
  together, a reduced axis of symbolic length in static runs of predicated steps, each run's loads issued before
  the predicates (`unpredicated_loads.py`).

The reduction may be a tuple reduction writing one element of several buffers per output (ArgMax/ArgMin's
(index, value) pairs: dlight gave each row of 1000 a block of 256 threads and shared memory, 0.44x compile).

A third case: a small window read neither way (pooling's 2x2 at x[2h + i, 2w + j]) gets a thread per output
walking its window; dlight's Reduction gave each output a block of 4 threads (6.4 million blocks for AveragePool
(64, 128, 56, 56)).

Applies to a function of one reduction block (all its spatial axes first, as dlight normalises them) and at most
one spatial epilogue over the same outputs; rows longer than LONG_ROW, or long rows that are few, are left to
dlight's block-per-row rule. `dim_max` bounds symbolic extents (the plugin's declared ranges).
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from ..ir.dtypes import BY_NAME
from .analysis import fused_index_map, inlined_blocks, max_product, static_factor, static_product
from .padded_taps import PRAGMA as PADDED_TAPS
from .row_reduction import (MIN_BLOCKS, ROWS_PER_BLOCK, RUN_STEPS, THREADS, ShortRowReduction, _row_layout,
                            whole_rows_a_block)
from .unpredicated_loads import MARK

LONG_ROW = 16384  # a warp per row up to this (each lane 512 elements at most)
MANY_ROWS = 2048  # rows longer than MAX_ROW get a warp each only when there are this many (at the largest dims)
MAX_ROW = 1024
COLUMN_LANES = 32  # outputs a block along the contiguous axis (outer layout)
MAX_SPLIT = 16  # threadIdx.y sharing the reduced axis (outer layout)
MIN_SHARE = 4  # reduced elements a thread walks at least (outer layout)
FILL_THREADS = 1 << 19  # outer layout: threads (outputs x split, at the largest dims) that fill an H200 twice
OUTER_THREADS = 256  # outer layout: threads a block
OUTER_STEPS = 8  # outer layout, a reduced axis of symbolic length: steps unrolled per run
WINDOW_WORD = 4  # a thread walks the windows of a 4-byte word of outputs (two fp16), sharing their index math
# (8 and 16 bytes measured slower: MaxPool 3x3/2 fp16 50.5/94.3 us against 32.8, in-place accumulation)
SMALL_WINDOW = 32  # a reduced window this small and neither layout (pooling): a thread per output walks it


class RowReduce(GPUScheduleRule):
    """A warp per row (reduced axes contiguous) or a column of threads per output (kept axes contiguous)."""

    def __init__(self, dim_max=None):
        self.dim_max = dict(dim_max or {})

    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        found = inlined_blocks(self, func, target)
        if found is None or not found[1] or len(found[1]) > 2:
            return None
        sch, infos = found
        red, epilogue = infos[0], (infos[1] if len(infos) == 2 else None)
        kind = red.dom_kind()
        leading = len(kind) - len(kind.lstrip("S"))
        if leading == 0 or leading == len(kind) or kind != "S" * leading + "R" * (len(kind) - leading):
            return None
        if epilogue is not None and (not epilogue.is_injective() or epilogue.dom_kind() != "S" * leading):
            return None
        block = sch.get(red.block_rv)
        if not _one_output_element(block) or len(block.iter_vars) != len(kind):
            return None
        layout = _layout(block, leading)
        extents = [iv.dom.extent for iv in block.iter_vars]
        window = static_product(extents[leading:])
        if layout is None and window is not None and window <= SMALL_WINDOW:
            return self._per_thread(sch, red, epilogue, extents, leading)
        if layout is None:
            return None
        rows = max_product(extents[:leading], self.dim_max)
        row = max_product(extents[leading:], self.dim_max)
        if rows is None or row is None:
            return None
        main = layout[1]
        itemsize = BY_NAME[str(main.source.dtype)].itemsize if str(main.source.dtype) in BY_NAME else 4
        sch.transform_block_layout(red.block_rv, fused_index_map(extents, leading))
        if epilogue is not None:
            epi_extents = [iv.dom.extent for iv in sch.get(epilogue.block_rv).iter_vars]
            sch.transform_block_layout(epilogue.block_rv, fused_index_map(epi_extents, len(epi_extents)))
            for i in range(len(block.writes)):  # the epilogue reads registers (ArgMax: the index of the pair)
                sch.set_scope(red.block_rv, buffer_index=i, storage_scope="local")
        if layout[0] == "inner":
            if row > LONG_ROW or (row > MAX_ROW and rows < MANY_ROWS):
                return None
            return self._inner(sch, red.block_rv, epilogue, extents, leading, layout[2], itemsize)
        return self._outer(sch, red.block_rv, epilogue, extents, leading, row)

    def _inner(self, sch, block, epilogue, extents, leading, contiguous, itemsize):
        """A warp (fewer lanes for short rows) per row, ty_len rows a block."""
        row_extents = extents[leading:]
        row = max_product(row_extents, self.dim_max)
        lanes, vec = _row_layout(row, itemsize, static_factor(row_extents) if contiguous else 1)
        rows_static = static_product(extents[:leading])
        rows_multiple = static_factor(extents[:leading])
        ty_len = ROWS_PER_BLOCK if vec == 1 else max(1, THREADS // lanes)
        ty_len = whole_rows_a_block(ty_len, lanes, rows_static, rows_multiple)
        while rows_static is not None and ty_len > 1 and rows_static // ty_len < MIN_BLOCKS:
            ty_len //= 2
        row_loop, elems = sch.get_loops(block)
        bx, ty = sch.split(row_loop, [None, ty_len])
        tx, r_loop = ShortRowReduction._split_row(sch, elems, lanes, vec, RUN_STEPS)
        sch.reorder(bx, ty, tx, r_loop)
        sch.bind(bx, "blockIdx.x")
        sch.bind(ty, "threadIdx.y")
        sch.bind(tx, "threadIdx.x")
        ShortRowReduction._unroll(sch, r_loop)
        if vec > 1:
            for i, read in enumerate(sch.get(block).reads):
                if BY_NAME.get(str(read.source.dtype)) and BY_NAME[str(read.source.dtype)].itemsize == itemsize \
                        and len(read.source.shape) >= len(row_extents):
                    cache = sch.cache_read(block, i, "local")
                    sch.compute_at(cache, r_loop, preserve_unit_loops=True)
                    sch.vectorize(sch.get_loops(cache)[-1])
        if epilogue is not None:
            sch.reverse_compute_at(epilogue.block_rv, ty, preserve_unit_loops=True)
        return sch

    def _per_thread(self, sch, red, epilogue, extents, leading):
        """A small window (pooling): a thread per output walks it, outputs spread over 256-thread blocks; 16-bit
        outputs a 4-byte word of them a thread. The windows accumulate in registers, the result stored once:
        accumulated in place in the output, each tap's update stayed a store (SASS: 10 stores a thread, the padded
        taps' branches splitting the code), MaxPool 3x3/2 fp16 32.6 us on an H200, 27.2 with the register word
        (torch.compile 27.1). The accumulator and its store are flat, as the window block is: in the output's
        layout (cache_write alone) the store's region was a box over 4 axes and the accumulator the whole output
        in local memory. A thread of one output (fp32) has its padded taps loaded unconditionally and selected
        (`padded_taps.py`): with its maximum in a register nvcc branched around them, loads one at a time (47.4 us
        against 37.3 in place), and in place it kept 6 stores a thread; register and selects: 35.4. A word of
        windows keeps its taps as they were: nvcc predicates their loads, and the selects cost it 26.9 -> 28.4 us
        (each selected tap its own 64-bit address)."""
        sch.transform_block_layout(red.block_rv, fused_index_map(extents, leading))
        out_shape = list(sch.get(red.block_rv).writes[0].source.shape)
        dtype = BY_NAME.get(str(sch.get(red.block_rv).writes[0].source.dtype))
        per = max(1, WINDOW_WORD // dtype.itemsize) if dtype else 1  # outputs a thread: a 4-byte word of them
        per = per if per > 1 and static_factor(extents[leading - 1:leading]) % per == 0 else 1
        consumer = None  # the block under the thread that reads the window's result: the epilogue, or the store
        if epilogue is not None:
            consumer = epilogue.block_rv
            for i in range(len(sch.get(red.block_rv).writes)):
                sch.set_scope(red.block_rv, buffer_index=i, storage_scope="local")
        elif out_shape:  # a scalar (a dot of two vectors) stays in place
            consumer = sch.cache_write(red.block_rv, 0, "local")
            sch.transform_layout(red.block_rv, ("write", 0), fused_index_map(out_shape, len(out_shape)))
        if consumer is not None:
            consumer_extents = [iv.dom.extent for iv in sch.get(consumer).iter_vars]
            sch.transform_block_layout(consumer, fused_index_map(consumer_extents, len(consumer_extents)))
        out_loop, r_loop = sch.get_loops(red.block_rv)
        if per > 1:
            bx, tx, pair = sch.split(out_loop, [None, THREADS, per])
            sch.unroll(pair)
        else:
            bx, tx = sch.split(out_loop, [None, THREADS])
        sch.bind(bx, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        sch.unroll(r_loop)
        if per == 1:  # taps on the padding: selects, not branches (see the docstring)
            sch.annotate(r_loop, ann_key=PADDED_TAPS, ann_val=1)
        if consumer is not None:
            sch.reverse_compute_at(consumer, tx, preserve_unit_loops=True)
        if epilogue is None and per > 1:
            sch.vectorize(sch.get_loops(consumer)[-1])  # the word in one store
        return sch

    def _outer(self, sch, block, epilogue, extents, leading, row):
        """Outputs along threadIdx.x (coalesced), the reduced axis split over threadIdx.y only as far as the
        outputs leave threads to fill the GPU (each split adds a shared-memory reduction tree with a barrier per
        step), each thread's walk unrolled so that its loads are in flight together; a reduced axis of symbolic
        length is walked in static runs of OUTER_STEPS, each step predicated and the run's loads issued first."""
        outputs = max_product(extents[:leading], self.dim_max) or 0
        split = 1
        while split < MAX_SPLIT and outputs * split < FILL_THREADS and row // (2 * split) >= MIN_SHARE:
            split *= 2
        lanes = max(COLUMN_LANES, OUTER_THREADS // split)
        multiple = static_factor(extents[:leading])
        while lanes > COLUMN_LANES and multiple % lanes:  # whole columns a block: no predicate on the output
            lanes //= 2
        out_loop, r_loop = sch.get_loops(block)
        bx, tx = sch.split(out_loop, [None, lanes])
        if static_product(extents[leading:]) is None:
            walk, ty, steps = sch.split(r_loop, [None, split, OUTER_STEPS])
            sch.reorder(bx, tx, ty, walk, steps)  # the reduction loops innermost, as cross-thread reduction needs
            sch.annotate(walk, ann_key=MARK, ann_val=1)  # each run's loads issued before its steps' predicates
        else:
            ty, walk = sch.split(r_loop, [split, None])
            sch.reorder(bx, tx, ty, walk)
        if split > 1:
            sch.bind(ty, "threadIdx.y")
        sch.bind(bx, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        ShortRowReduction._unroll(sch, walk)
        if epilogue is not None:
            sch.reverse_compute_at(epilogue.block_rv, tx, preserve_unit_loops=True)
        elif split == 1:  # no cross-thread reduction to hold the result: accumulate in a register, store once
            for i in range(len(sch.get(block).writes)):
                store = sch.cache_write(block, i, "local")
                sch.reverse_compute_at(store, tx, preserve_unit_loops=True)
        return sch


def _layout(block, leading: int):
    """("inner", main read, contiguous) when the input's innermost dim is indexed by the last reduced variable
    (contiguous: the reduced variables are the input's trailing dims, in order); ("outer", main read, False) when
    it is a kept variable that also indexes the output's innermost dim; None otherwise."""
    variables = [iv.var for iv in block.iter_vars]
    kept, reduced = variables[:leading], variables[leading:]
    uses_all = [r for r in block.reads if all(_mentions(r, v) for v in reduced)]
    if len(uses_all) != 1:
        return None
    main = uses_all[0]
    indices = [rng.min for rng in main.region]
    if not indices or any(not _unit(rng) for rng in main.region):
        return None
    last = indices[-1]
    if isinstance(last, tirx.Var) and last.same_as(reduced[-1]):
        tail = indices[len(indices) - len(reduced):]
        contiguous = all(isinstance(i, tirx.Var) and i.same_as(v) for i, v in zip(tail, reduced))
        return "inner", main, contiguous
    out_last = block.writes[0].region[-1].min if block.writes[0].region else None
    if (isinstance(last, tirx.Var) and any(last.same_as(k) for k in kept) and isinstance(out_last, tirx.Var)
            and out_last.same_as(last) and kept[-1].same_as(last)):
        return "outer", main, False
    return None


def _one_output_element(block) -> bool:
    """The block writes one element per output position: one buffer, or the same position of several (ArgMax and
    ArgMin reduce (index, value) pairs; the pair is one element of a tuple reduction)."""
    if not block.writes:
        return False
    first = block.writes[0].region
    return all(len(w.region) == len(first) and all(a.min.same_as(b.min) for a, b in zip(w.region, first))
               for w in block.writes[1:])


def _mentions(region, var) -> bool:
    return any(any(v.same_as(var) for v in tirx.analysis.undefined_vars(rng.min)) for rng in region.region)


def _unit(rng) -> bool:
    from tvm.ir.prim.expr import IntImm

    return isinstance(rng.extent, IntImm) and rng.extent.value == 1
