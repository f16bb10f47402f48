"""Kernels with a loop whose extent is read from tensor data: threads over the shape-sized loops only.

RoiAlign with sampling_ratio=0 averages ceil(roi_size / pooled_size) samples per bin: the sampling loops' extents
are read from the ROIs. dlight's rules decline such a function (their analyses need affine extents), and TVM's
fallback (DefaultGPUSchedule) then fuses every loop it finds into the launch, so the grid would depend on data the
launcher cannot read. Here each root block's own loops (spatial, extents from shapes) are fused and bound to
threads; whatever loops sit inside a block, data-dependent ones included, stay serial in each thread. The launch is
then computed from shapes only. Producers that are plain spatial blocks (the ROI concat) are inlined first, so the
function is one kernel when they allow it.
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

THREADS = 256


def has_data_dependent_extent(func: tirx.PrimFunc) -> bool:
    """Some loop of `func` has an extent that loads from a buffer."""
    import tvm_ffi
    from tvm.ir import TensorLoad

    extents = []
    tvm_ffi.structural_walk(func.body, (tirx.For, lambda loop: extents.append(loop.extent)))
    loads = []
    for extent in extents:
        tvm_ffi.structural_walk(extent, (TensorLoad, loads.append))
    return bool(loads)


class DataDependentLoops(GPUScheduleRule):
    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        if not isinstance(func, tirx.PrimFunc) or not self.is_target_available(target):
            return None
        if not has_data_dependent_extent(func):
            return None
        return threads_over_shapes(func)


def threads_over_shapes(func: tirx.PrimFunc, bind: bool = True) -> s_tir.Schedule:
    """`func` with its spatial producers inlined and each root block's loops fused into THREADS-wide blocks of
    threads; `bind` False leaves them serial loops (the same schedule, for a CPU to run in tests)."""
    sch = s_tir.Schedule(func)
    root = sch.get_sblock("root")
    for block in list(sch.get_child_blocks(root))[:-1][::-1]:  # producers, last first: each inlined frees the next
        try:
            sch.compute_inline(block)
        except Exception:  # noqa: BLE001 - TVM's own check says what inlines; a block that does not keeps its loops
            pass
    for block in sch.get_child_blocks(root):
        loops = _spatial_prefix(sch, block)
        if not loops:
            continue
        fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        bx, tx = sch.split(fused, factors=[None, THREADS])
        if bind:
            sch.bind(bx, "blockIdx.x")
            sch.bind(tx, "threadIdx.x")
    return sch


def _spatial_prefix(sch: s_tir.Schedule, block) -> list:
    """The block's outer loops up to the first that feeds a reduction var or whose extent reads data: only those
    may become threads (a thread per reduced element would race on the output; a data extent is no launch)."""
    import tvm_ffi
    from tvm.ir import TensorLoad
    from tvm.s_tir.dlight.analysis.common_analysis import get_sblockrealize

    realize = get_sblockrealize(sch, block)
    reduced = []
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if int(iv.iter_type) != 0:  # 0: data parallel
            tvm_ffi.structural_walk(value, (tirx.Var, reduced.append))
    prefix = []
    for loop in sch.get_loops(block):
        node = sch.get(loop)
        loads = []
        tvm_ffi.structural_walk(node.extent, (TensorLoad, loads.append))
        if loads or any(v.same_as(node.loop_var) for v in reduced):
            break
        prefix.append(loop)
    return prefix
