"""Sliding-window reductions (MaxPool, AvgPool's sum): a thread per output element, its window in registers.

A pool's reduction is a few taps (3x3) per output, each tap index a sum of an output coordinate and a window
offset. The row rules see a reduction and give it their schedule, which accumulated each tap straight into the
output in global memory: 9 read-modify-writes of the output per element. In fp32 the compiler kept the value in
a register anyway (80 % of the roofline); for half precision it did not, and the (32,64,112,112) fp16 MaxPool took
38.3 us on an H200, as long as fp32 (torch.compile: 27.3). Here the accumulator is a register (a local cache of
the output), the window loops are unrolled, and the output is written once.

Applies to a function that is one reduction block after inlining, writing its output at its spatial vars, whose
reduction extents are constants with a product of at most MAX_TAPS, each reduction var indexing an operand
together with a spatial var (a window, not a plain reduction over an axis, which the row rules own).
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.ir.prim.expr import IntImm
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from .analysis import inlined_blocks

THREADS = 256
MAX_TAPS = 64  # 8x8 windows; larger ones are reductions worth splitting across threads


class WindowReduction(GPUScheduleRule):
    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        found = inlined_blocks(self, func, target)
        if found is None or not found[1] or len(found[1]) != 1:
            return None
        sch, (info,) = found
        block = info.block_rv
        stmt = sch.get(block)
        kinds = [int(iv.iter_type) for iv in stmt.iter_vars]  # 0 spatial, 2 reduction
        if 2 not in kinds or any(k not in (0, 2) for k in kinds) or kinds != sorted(kinds):
            return None
        if not _is_window(stmt) or len(stmt.writes) != 1:
            return None
        loops = sch.get_loops(block)
        if len(loops) != len(kinds):
            return None
        spatial, reduce = loops[:kinds.count(0)], loops[kinds.count(0):]
        extents = [sch.get(loop).extent for loop in reduce]
        taps = 1
        for extent in extents:
            if not isinstance(extent, IntImm):
                return None
            taps *= extent.value
        if taps > MAX_TAPS or not spatial:
            return None
        bx, tx = sch.split(sch.fuse(*spatial), [None, THREADS])
        sch.bind(bx, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        store = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(store, tx, preserve_unit_loops=True)
        sch.decompose_reduction(block, reduce[0])
        for loop in reduce:
            sch.unroll(loop)
        return sch


def _is_window(block) -> bool:
    """Every reduction var of `block` appears in some read index together with a spatial var."""
    import tvm_ffi

    spatial = [iv.var for iv in block.iter_vars if int(iv.iter_type) == 0]
    reduce = [iv.var for iv in block.iter_vars if int(iv.iter_type) == 2]

    def uses(expr):
        found = []
        tvm_ffi.structural_walk(expr, (tirx.Var, found.append))
        return found

    indices = [rng.min for read in block.reads for rng in read.region]
    windowed = set()
    for index in indices:
        used = uses(index)
        if any(v.same_as(s) for v in used for s in spatial):
            windowed.update(i for i, r in enumerate(reduce) if any(v.same_as(r) for v in used))
    return len(windowed) == len(reduce)
