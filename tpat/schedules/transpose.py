"""Transposes that move the innermost axis, through a shared-memory tile: coalesced reads and coalesced writes.

A permutation that moves the innermost axis (Transpose (0,2,1) of (batch,512,512), NHWC<->NCHW) reads its input
along one axis and writes its output along another. One thread per output element (dlight, or the vector rule)
then writes rows but reads columns: each warp's loads are strided by the input's row length, every load a separate
32-byte sector for 4 useful bytes. On an H200 the (64,512,512) fp32 transpose ran at 41 % of the DRAM roofline
(75.7 us against torch.compile's 34.2). Here a block stages a TILE x TILE tile through shared memory: it loads the
tile along the input's innermost axis (a warp reads 32 consecutive elements), synchronises, and stores it along
the output's innermost axis (a warp writes 32 consecutive elements); the tile's rows are padded by one element so
the column-wise reads of shared memory do not all fall in one bank.

Applies to a function that is one injective block after inlining, writing its output at its block vars, with one
operand read at a permutation of those vars whose last index is not the last var (the innermost axis moves), and
the two tiled extents (the output's innermost axis and the one the input's innermost axis becomes) constants of
at least a tile (a ragged last tile is guarded: TVM predicates its loads and stores). Anything else (a batch axis, symbolic or not) is fused into the grid. Other operands (a
fused scale, a broadcast) are read at the output's index, as the store side's threads run in output order.
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.ir.prim.expr import IntImm
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from .analysis import inlined_blocks, writes_at_iteration_point

TILE = 32  # a warp's width: one warp reads one tile row of the input, one warp writes one tile row of the output
THREADS = 256  # 8 tile rows at a time: each thread moves TILE * TILE / THREADS = 4 elements
BANK_PAD = 1  # elements of padding per tile row of shared memory


class TiledTranspose(GPUScheduleRule):
    def apply(self, func: tirx.PrimFunc, target: Target, _: bool) -> None | s_tir.Schedule:
        found = inlined_blocks(self, func, target)
        if found is None or not found[1] or len(found[1]) != 1 or not found[1][0].is_injective():
            return None
        sch, (info,) = found
        block = info.block_rv
        stmt = sch.get(block)
        if not writes_at_iteration_point(stmt):
            return None
        moved = transposed_read(stmt)
        if moved is None:
            return None
        read_index, source_axis = moved
        loops = sch.get_loops(block)
        bindings = list(_realize(sch, block).iter_values)
        if len(loops) != len(bindings) or not all(b.same_as(sch.get(loop).loop_var)
                                                  for b, loop in zip(bindings, loops)):
            return None  # block vars not one loop each, in order
        extents = [sch.get(loop).extent for loop in loops]
        if not all(isinstance(extents[i], IntImm) and extents[i].value >= TILE for i in (source_axis, -1)):
            return None
        # output loops (.., q, .., j): q is the axis the input's innermost axis becomes, j the output's innermost
        q_outer, q_inner = sch.split(loops[source_axis], [None, TILE])
        j_outer, j_inner = sch.split(loops[-1], [None, TILE])
        rest = [loop for i, loop in enumerate(loops) if i not in (source_axis, len(loops) - 1)]
        sch.reorder(*rest, q_outer, j_outer, q_inner, j_inner)
        bx = sch.fuse(*rest, q_outer, j_outer)
        sch.bind(bx, "blockIdx.x")
        q_serial, q_thread = sch.split(q_inner, [None, THREADS // TILE])
        sch.bind(sch.fuse(q_thread, j_inner), "threadIdx.x")
        sch.unroll(q_serial)
        tile = sch.cache_read(block, read_index, "shared")
        sch.compute_at(tile, bx, preserve_unit_loops=True)
        ndim = len(sch.get(tile).iter_vars)
        sch.storage_align(tile, 0, axis=ndim - 2, factor=TILE, offset=BANK_PAD)
        tile_loops = sch.get_loops(tile)[1:]  # under blockIdx.x: one loop per axis of the input, in its order
        serial, thread = sch.split(sch.fuse(*tile_loops), [None, THREADS])
        sch.bind(thread, "threadIdx.x")
        sch.unroll(serial)
        return sch


def transposed_read(block) -> tuple[int, int] | None:
    """(index of the read, output axis the input's innermost axis becomes) for the read of `block` whose indices
    are its block vars permuted so that the innermost axis moves; None when there is none (or several)."""
    block_vars = [iv.var for iv in block.iter_vars]
    found = []
    for i, read in enumerate(block.reads):
        # dlight's normalisation drops unit block vars (batch 1): the region then holds a constant 0 on that axis
        region = [rng for rng, dim in zip(read.region, read.source.shape)
                  if not (isinstance(rng.min, IntImm) and rng.min.value == 0 and isinstance(dim, IntImm)
                          and dim.value == 1)]
        if len(region) != len(block_vars) or not all(_is_point(rng) for rng in region):
            continue
        position = [_var_position(rng.min, block_vars) for rng in region]
        if None in position or sorted(position) != list(range(len(block_vars))):
            continue
        if position[-1] != len(block_vars) - 1:
            found.append((i, position[-1]))
    return found[0] if len(found) == 1 else None


def _realize(sch, block):
    """The SBlockRealize of `block` (its bindings to the loops)."""
    from tvm.s_tir.dlight.analysis.common_analysis import get_sblockrealize

    return get_sblockrealize(sch, block)


def _is_point(rng) -> bool:
    return isinstance(rng.extent, IntImm) and rng.extent.value == 1


def _var_position(expr, block_vars) -> int | None:
    for position, var in enumerate(block_vars):
        if expr.same_as(var):
            return position
    return None
