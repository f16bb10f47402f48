"""Row reductions (Softmax, LayerNorm, RMSNorm ...) over rows of a static length: a warp per row.

dlight's `GeneralReduction` gives every row a block of 256 threads. A BERT attention row has 128 elements, so half
the threads idle, and every step of the row (max, sum of exp, normalise) is a block-wide reduction through shared
memory and `__syncthreads`: on an H100 the (64,12,128,128) Softmax ran at a quarter of the DRAM roofline. Here a
row gets one warp, a block carries several rows along `threadIdx.y`, and the per-row results stay in registers:
each reduction is a few warp shuffles, with no shared memory and no barrier.

Applies when every block but the last reduces over the same trailing axes, the last one is spatial over the same
iteration space, and the reduced extent is a constant of at most MAX_ROW; otherwise it declines and dlight's rule
runs. Measured on an H100: LayerNorm (64,128,768) fp16 15.3 -> 7.6 us with a warp per row (what meta_schedule
found too), but (1,128,768) is faster with dlight's block per row: 128 warps leave most of the GPU idle.
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from .analysis import fused_index_map, inlined_blocks, static_factor, static_product

WARP = 32
ROWS_PER_BLOCK = 8
SHORT_ROW = 256  # a warp per row whatever the row count (Softmax over 128 keys)
MAX_ROW = 1024  # longer rows (LayerNorm's 768) too, when there are rows enough to fill the GPU
UNROLL = 256
MIN_BLOCKS = 264  # two blocks per SM of an H100 (132 SMs) before rows are packed 8 to a block


class ShortRowReduction(GPUScheduleRule):
    """One row per `threadIdx.y`, its elements over `threadIdx.x`: warp-level reductions, several rows a block."""

    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        found = inlined_blocks(self, func, target)
        if found is None or not found[1] or len(found[1]) < 2:
            return None
        sch, infos = found
        kind = infos[0].dom_kind()
        leading = len(kind) - len(kind.lstrip("S"))
        trailing = len(kind) - len(kind.rstrip("R"))
        last = infos[-1]
        if (trailing == 0 or leading == 0 or leading + trailing != len(kind)
                or any(info.dom_kind() != kind for info in infos[:-1])
                or not last.is_injective() or len(last.dom_kind()) != len(kind)):
            return None
        last_loops = sch.get_loops(last.block_rv)
        row_length = static_product(it.dom for it in infos[0].iters[leading:])
        last_row = static_product(sch.get(loop).extent for loop in last_loops[leading:])
        if row_length is None or last_row != row_length or row_length > MAX_ROW:
            return None  # symbolic or long rows, or an output not laid out as rows of the reduced axes
        extents = [sch.get(loop).extent for loop in last_loops]
        rows = static_product(extents[:leading])
        if row_length > SHORT_ROW and rows is not None and rows < MIN_BLOCKS * ROWS_PER_BLOCK:
            return None  # few long rows: dlight's block of 256 threads per row keeps more of the GPU busy
        rows_multiple = static_factor(extents[:leading])
        ty_len = ROWS_PER_BLOCK
        while rows_multiple % ty_len:  # whole rows per block: no predicate around the warp reductions
            ty_len //= 2
        while rows is not None and ty_len > 1 and rows // ty_len < MIN_BLOCKS:  # few rows: spread them over SMs
            ty_len //= 2

        for info in infos:  # every block iterates (row, element of the row): one fused index each
            sch.transform_block_layout(info.block_rv, fused_index_map(extents, leading))
        for info in infos[:-1]:  # per-row results indexed by the row alone, so a block covers just its rows
            for i, write in enumerate(sch.get(info.block_rv).writes):
                dims = list(write.source.shape)  # the leading dims, perhaps with unit dims kept or squeezed
                if not dims or static_factor(dims) != rows_multiple:
                    return None
                sch.transform_layout(info.block_rv, ("write", i), fused_index_map(dims, len(dims)))

        row_loop, elems = sch.get_loops(last.block_rv)
        bx, ty = sch.split(row_loop, [None, ty_len])
        r_loop, tx = sch.split(elems, [None, WARP])
        sch.reorder(bx, ty, tx, r_loop)
        sch.bind(bx, "blockIdx.x")
        sch.bind(ty, "threadIdx.y")
        sch.bind(tx, "threadIdx.x")
        self._unroll(sch, r_loop)
        for info in reversed(infos[:-1]):
            block = info.block_rv
            for i, _ in enumerate(sch.get(block).writes):
                # registers: after a warp allreduce every lane holds the result (shared memory would need a
                # barrier between lane 0's store and the other lanes' loads)
                sch.set_scope(block, buffer_index=i, storage_scope="local")
            # at the block loop, each producer covers the block's ty_len rows: one per threadIdx.y
            sch.compute_at(block, bx, preserve_unit_loops=True)
            _, row, elems = sch.get_loops(block)
            sch.bind(row, "threadIdx.y")
            r_loop, tx = sch.split(elems, [None, WARP])
            sch.reorder(tx, r_loop)
            sch.bind(tx, "threadIdx.x")
            self._unroll(sch, r_loop)
        return sch

    @staticmethod
    def _unroll(sch: s_tir.Schedule, loop) -> None:
        sch.annotate(loop, ann_key="pragma_auto_unroll_max_step", ann_val=UNROLL)
        sch.annotate(loop, ann_key="pragma_unroll_explicit", ann_val=1)
