"""Row reductions (Softmax, LayerNorm, RMSNorm ...) over rows of a static length: a warp per row.

dlight's `GeneralReduction` gives every row a block of 256 threads. A BERT attention row has 128 elements, so half
the threads idle, and every step of the row (max, sum of exp, normalise) is a block-wide reduction through shared
memory and `__syncthreads`: on an H100 the (64,12,128,128) Softmax ran at a quarter of the DRAM roofline. Here a
row gets one warp, a block carries several rows along `threadIdx.y`, and the per-row results stay in registers:
each reduction is a few warp shuffles, with no shared memory and no barrier.

Where an operand is broadcast over each batch's rows (the attention mask, (batch, 1, 1, seq)) and the batch is
symbolic, the batch goes to blockIdx.y and the rows within it to blockIdx.x, so a thread needs no run-time division
to find its batch.

A short row (<= SHORT_ROW elements) whose length allows it is read in 16-byte vectors: each lane owns LANE_BYTES
contiguous bytes of the row, loaded and stored as vectors, so a half-precision row of 128 gets 8 lanes of 16
elements and a block carries 32 rows. Fewer lanes a row also mean fewer shuffle steps per row and fewer threads
repeating the per-row work; on an H100 the (64,12,128,128) fp16 Softmax went from 21.1 us (32 lanes, 2-byte
loads) to 16.2 us (torch.compile: 16.7).

Long rows (<= MAX_ROW) get a warp (or part of one, see `_row_layout`) each too, each lane's share in 16-byte
vectors, and the operands shaped as one row (LayerNorm's gamma and beta) in vectors as well. LayerNorm (64,128,768)
fp16 took 15.3 us with dlight's block of 256 threads per row, 7.5 with a scalar, lane-interleaved warp per row, 10.2
vectorised with gamma and beta left scalar (a lane's 8 scalar loads 16 bytes apart), and 5.96 vectorised throughout
(torch.compile: 7.0). LayerNorm (1,128,768) took 2.13/2.23 us (fp32/fp16) with dlight's block per row, 2.18/2.24
with a scalar warp, 2.05/1.87 vectorised (torch.compile 1.9/1.8), and 2.60/3.35 with a vectorised block per row (the
block-wide results are re-read from shared memory per element). Long rows that do not split into whole vectors per
lane stay scalar and lane-interleaved when there are many of them, and go to dlight's block per row when there are
few.

Rows longer than MAX_ROW get a block of THREADS lanes each (the block-wide allreduce's results copied into
registers once per thread), and an output whose axes refine the rows — GroupNorm's (n, c, h, w) over rows of
(n, c // channels_per_group) — is split at the row length, so it too is rows of the reduced axes.

Applies when every block but the last reduces over the same trailing axes and the last one is spatial over the
same elements, row by row; otherwise it declines and dlight's rule runs.
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir.dlight.gpu.base import GPUScheduleRule
from tvm.target import Target

from ..ir.dtypes import BY_NAME
from .analysis import (VECTOR_BYTES, equal_products, fused_index_map, inlined_blocks, max_product, same_shape,
                       static_factor, static_product)

WARP = 32
ROWS_PER_BLOCK = 8
SHORT_ROW = 256  # a warp per row whatever the row count (Softmax over 128 keys)
MAX_ROW = 1024  # longer rows (LayerNorm's 768) too
UNROLL = 256
MIN_BLOCKS = 264  # two blocks per SM of an H100 (132 SMs) before rows are packed 8 to a block
LANE_BYTES = 32  # a lane's contiguous share of a short row: two 16-byte vectors
THREADS = 256  # per block, when short rows are vectorised
RUN_STEPS = 4  # a scalar row of symbolic length: steps a lane's run (at 8, half of them dead at sequence 128)
MAX_GRID_Y = 65535  # blockIdx.y's limit
MAX_VECTOR_STEPS = 4  # a run of 16-byte vectors: 64 bytes a lane in flight


class ShortRowReduction(GPUScheduleRule):
    """One row per `threadIdx.y`, its elements over `threadIdx.x`: warp-level reductions, several rows a block.

    `dim_max` (name -> largest value of each symbolic dim) lets rows of symbolic length in: a row whose length is
    at most MAX_ROW at the largest dims gets the same warp, its elements lane-interleaved with a predicate at the
    row's end (in vectors where the row is a static multiple of them), walked in runs of unrolled steps whose
    loads are issued before the predicates (`_split_row`, `unpredicated_loads.py`)."""

    def __init__(self, dim_max=None):
        self.dim_max = dict(dim_max or {})

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
                or any(info.dom_kind() != kind for info in infos[:-1]) or not last.is_injective()):
            return None
        red_extents = [it.dom for it in infos[0].iters]
        if any(not _same_extents([it.dom for it in info.iters], red_extents) for info in infos[:-1]):
            return None
        row_extents = red_extents[leading:]
        row_length = max_product(row_extents, self.dim_max)  # the row's length, or its largest (symbolic rows)
        extents = [sch.get(loop).extent for loop in sch.get_loops(last.block_rv)]
        if row_length is None:
            return None
        per_row = plain = False  # plain: the output is laid out as the rows, row by row
        if len(extents) == len(kind) and _same_extents(extents[:leading], red_extents[:leading]) \
                and equal_products(row_extents, extents[leading:]):
            last_map, plain = fused_index_map(extents, leading), True
        elif static_product(row_extents) is not None and equal_products(red_extents, extents):
            # the output's axes refine the rows (GroupNorm: (n, c, h, w) over rows of (n, c // per), each row
            # c % per, h, w in order): the output's flat index split at the row length; whether its rows are
            # the reduction's is checked below, on the per-row results it reads
            last_map = _split_index_map(extents, static_product(row_extents))
            extents = [sch.get(loop).extent for loop in sch.get_loops(infos[0].block_rv)]
            if last_map is None:
                return None
        elif equal_products(red_extents[:leading], extents):  # one result a row (LogSumExp: log(sum) + max)
            per_row = True
            last_map = fused_index_map(extents, len(extents))
            extents = [sch.get(loop).extent for loop in sch.get_loops(infos[0].block_rv)]
        else:
            return None  # an output not laid out as rows of the reduced axes
        rows = static_product(extents[:leading])
        itemsize = BY_NAME[str(sch.get(last.block_rv).writes[0].source.dtype)].itemsize
        lanes, vec = _row_layout(row_length, itemsize, static_factor(row_extents), long_lanes=THREADS,
                                 symbolic=static_product(row_extents) is None)
        if vec == 1 and SHORT_ROW < row_length <= MAX_ROW and rows is not None and rows < MIN_BLOCKS * ROWS_PER_BLOCK:
            return None  # few long rows that do not split into vectors: dlight's block of 256 threads per row
        rows_multiple = static_factor(extents[:leading])
        ty_len = 1 if lanes > WARP else ROWS_PER_BLOCK if vec == 1 else max(1, THREADS // lanes)
        ty_len = whole_rows_a_block(ty_len, lanes, rows, rows_multiple)
        while rows is not None and ty_len > 1 and rows // ty_len < MIN_BLOCKS:  # few rows: spread them over SMs
            ty_len //= 2

        # an operand broadcast over the rows of each batch (the attention mask), a symbolic batch and whole blocks of
        # rows within it: the batch on blockIdx.y, where a fused row index took a run-time division by (heads *
        # seq) a thread to find it (H200, attention fp16 at sequence 128/384/512: 9.7/97.0/131.8 us with the
        # division, 8.4/84.9/115.9 without; the static twins 6.1/67.3/102.0)
        largest_first = max_product(extents[:1], self.dim_max)
        outer = (plain and leading > 1 and static_product(extents[:1]) is None
                 and largest_first is not None and largest_first <= MAX_GRID_Y
                 and static_factor(extents[1:leading]) % ty_len == 0
                 and _read_per_first_axis(sch, infos, extents, leading))

        def row_map(dims, lead):
            return fused_index_map(dims, lead, first_apart=outer)

        for info in infos[:-1]:  # every block iterates (row, element of the row): one fused index each
            sch.transform_block_layout(info.block_rv, row_map(extents, leading))
        sch.transform_block_layout(last.block_rv, row_map(extents, leading) if outer else last_map)
        for info in infos[:-1]:  # per-row results indexed by the row alone, so a block covers just its rows
            for i, write in enumerate(sch.get(info.block_rv).writes):
                dims = list(write.source.shape)  # the leading dims, perhaps with unit dims kept or squeezed
                if not dims or static_factor(dims) != rows_multiple:
                    return None
                if outer and not (len(dims) > 1 and str(dims[0]) == str(extents[0])):
                    return None
                sch.transform_layout(info.block_rv, ("write", i), row_map(dims, len(dims)))
        if not _reads_its_rows(sch, infos):
            return None

        if per_row:  # each lane of the row's warp computes the row's result from its registers
            (row_loop,) = sch.get_loops(last.block_rv)
            bx, ty = sch.split(row_loop, [None, ty_len])
            sch.bind(bx, "blockIdx.x")
            sch.bind(ty, "threadIdx.y")
            vectorized, lane_loops = [], []
        else:
            *by, row_loop, elems = sch.get_loops(last.block_rv)
            bx, ty = sch.split(row_loop, [None, ty_len])
            tx, r_loop = self._split_row(sch, elems, lanes, vec, run_steps(vec, row_length, lanes), row_length)
            sch.reorder(*by, bx, ty, tx, r_loop)
            if by:
                sch.bind(by[0], "blockIdx.y")
            sch.bind(bx, "blockIdx.x")
            sch.bind(ty, "threadIdx.y")
            sch.bind(tx, "threadIdx.x")
            self._unroll(sch, r_loop)
            vectorized = [(last.block_rv, r_loop)]
            lane_loops = [(last.block_rv, tx)]
        for info in reversed(infos[:-1]):
            block = info.block_rv
            for i, _ in enumerate(sch.get(block).writes):
                # registers: after a warp allreduce every lane holds the result (shared memory would need a
                # barrier between lane 0's store and the other lanes' loads)
                sch.set_scope(block, buffer_index=i, storage_scope="local")
            # at the block loop, each producer covers the block's ty_len rows: one per threadIdx.y
            sch.compute_at(block, bx, preserve_unit_loops=True)
            *_, row, elems = sch.get_loops(block)
            sch.bind(row, "threadIdx.y")
            tx, r_loop = self._split_row(sch, elems, lanes, vec, run_steps(vec, row_length, lanes), row_length)
            sch.reorder(tx, r_loop)
            sch.bind(tx, "threadIdx.x")
            self._unroll(sch, r_loop)
            vectorized.append((block, r_loop))
            lane_loops.append((block, tx))
        if lanes > WARP:
            self._results_in_registers(sch, lane_loops, infos[:-1])
        if vec > 1:
            rows_shape = max((list(r.source.shape) for r in sch.get(vectorized[-1][0]).reads), key=len)
            self._vectorize(sch, vectorized, rows_shape, trailing, None if per_row else last.block_rv)
        return sch

    @staticmethod
    def _split_row(sch: s_tir.Schedule, elems, lanes: int, vec: int, steps: int = 1, longest: int | None = None):
        """(lane loop, the lane's loop over its elements). Scalar: lane-interleaved (element r*lanes + lane), so a
        warp's load is contiguous. Vectorised: (vector r, lane, element of the vector), each vector contiguous.

        A row of symbolic length is walked in runs of `steps` static steps (RUN_STEPS): (run, lane, step[,
        element of the vector]), the run loop's extent ceildiv(length, steps * lanes * vec), so a short row costs
        a run or two and not the longest row's walk. The steps are unrolled and each is predicated on the row's
        end; the run loop is marked (`unpredicated_loads.MARK`) so that the loads of each step are issued
        unconditionally, from an index kept inside the buffer, before the predicate (`unpredicated_loads.py`):
        predicated loads beside their use were one in flight a lane, unrolled or not (the attention Softmax with
        a dynamic sequence at 53/327/553 us at 128/384/512 on an H200, its static twins at 6.8/67.5/117). Where one
        run covers the row's `longest` length (the plugin's largest dims; a bucket's bound in `divisible_dims.py`),
        the run loop is marked ONE_RUN too and gets the static extent 1: no trip count to compute (in a bucket's
        kernel, a division by the row's length), nothing for nvcc to keep rolled."""
        from tvm.ir.prim.expr import IntImm

        from .unpredicated_loads import MARK, ONE_RUN

        if not isinstance(sch.get(elems).extent, IntImm):
            loops = sch.split(elems, [None, steps, lanes] + ([vec] if vec > 1 else []))
            sch.reorder(loops[2], loops[0], loops[1], *loops[3:])
            sch.annotate(loops[0], ann_key=MARK, ann_val=1)
            if longest is not None and steps * lanes * vec >= longest:
                sch.annotate(loops[0], ann_key=ONE_RUN, ann_val=1)
            return loops[2], loops[1]
        if vec == 1:
            r_loop, tx = sch.split(elems, [None, lanes])
            return tx, r_loop
        r_loop, tx, inner = sch.split(elems, [None, lanes, vec])
        sch.reorder(tx, r_loop, inner)
        return tx, r_loop

    @staticmethod
    def _vectorize(sch: s_tir.Schedule, sites, rows_shape, reduced: int, last=None) -> None:
        """Operands shaped as the rows, as one row (`reduced`: the row's axes), or broadcast to the rows along the
        other axes (the attention mask, (batch, 1, 1, seq) against (batch, heads, seq, seq)), loaded per vector into
        registers; the output (`last`, when it is written element by element) stored per vector. A broadcast mask
        left to 2-byte loads beside 16-byte ones cost the symbolic attention kernel 8 loads a vector (the static
        twin's nvcc merged them, its offsets being static multiples of the vector)."""
        out = sch.get(last).writes[0].source if last is not None else None
        rows_shape = list(out.shape) if out is not None else rows_shape
        row_shape = rows_shape[len(rows_shape) - reduced:]
        itemsize = BY_NAME[str((out if out is not None else sch.get(sites[0][0]).reads[0].source).dtype)].itemsize
        for block, r_loop in sites:
            for i, read in enumerate(sch.get(block).reads):
                dtype = BY_NAME.get(str(read.source.dtype))
                matches = _broadcasts_along_rows(list(read.source.shape), rows_shape, row_shape)
                if matches and dtype and dtype.itemsize == itemsize and read.source.scope() == "global":
                    cache = sch.cache_read(block, i, "local", consumer_blocks=[block])
                    sch.compute_at(cache, r_loop, preserve_unit_loops=True)
                    sch.vectorize(sch.get_loops(cache)[-1])
        if last is not None:
            store = sch.cache_write(last, 0, "local")
            sch.reverse_compute_at(store, sites[0][1], preserve_unit_loops=True)
            sch.vectorize(sch.get_loops(store)[-1])

    @staticmethod
    def _results_in_registers(sch: s_tir.Schedule, lane_loops, producers) -> None:
        """A block-wide allreduce (a long row's block of lanes) leaves its result in shared memory, which the
        consumers read (volatile) at every use: the statistics of GroupNorm were re-read and the normalisation's
        rsqrt recomputed per element. Each consumer copies them into registers once, at its lane loop."""
        produced = {write.source for info in producers for write in sch.get(info.block_rv).writes}
        for block, tx in lane_loops:
            while True:
                reads = sch.get(block).reads
                index = next((i for i, read in enumerate(reads) if read.source in produced), None)
                if index is None:
                    break
                cache = sch.cache_read(block, index, "local", consumer_blocks=[block])
                sch.compute_at(cache, tx, preserve_unit_loops=True)

    @staticmethod
    def _unroll(sch: s_tir.Schedule, loop) -> None:
        sch.annotate(loop, ann_key="pragma_auto_unroll_max_step", ann_val=UNROLL)
        sch.annotate(loop, ann_key="pragma_unroll_explicit", ann_val=1)


def _reads_its_rows(sch, infos) -> bool:
    """The output element (row, e) reads the per-row results of `row` (of (outer, row) with the first axis apart):
    the thread that computed them."""
    from tvm import sym

    produced = {write.source for info in infos[:-1] for write in sch.get(info.block_rv).writes}
    last = sch.get(infos[-1].block_rv)
    analyzer = sym.Analyzer()
    for iv in last.iter_vars:
        analyzer.bind(iv.var, iv.dom)
    rows = [read for read in last.reads if read.source in produced]
    if not rows:
        return True
    row = [iv.var for iv in last.iter_vars[:len(rows[0].region)]]  # (row) or (outer, row)
    return len(row) in (1, 2) and all(len(read.region) == len(row) and all(
        analyzer.can_prove_equal(r.min, v) for r, v in zip(read.region, row)) for read in rows)


def _read_per_first_axis(sch, infos, extents, leading: int) -> bool:
    """Some operand is indexed by the first axis but broadcast over other row axes (the attention mask, (batch, 1,
    1, seq) against rows of (batch, heads, seq)): each row's thread must find its first-axis index."""
    for info in infos:
        for read in sch.get(info.block_rv).reads:
            shape = list(read.source.shape)
            if len(shape) == len(extents) and str(shape[0]) == str(extents[0]) and any(
                    static_product([d]) == 1 and static_product([e]) != 1
                    for d, e in zip(shape[1:leading], extents[1:leading])):
                return True
    return False


def _broadcasts_along_rows(shape, rows_shape, row_shape) -> bool:
    """`shape` is the rows' shape, one row's, or the rows' with some axes before the row's last one of extent 1
    (numpy broadcasting, aligned at the right): each vector of it lines up with a vector of the rows."""
    if same_shape(shape, row_shape) or same_shape(shape, rows_shape):
        return True
    if not shape or len(shape) > len(rows_shape) or str(shape[-1]) != str(rows_shape[-1]):
        return False
    return all(str(a) == str(b) or static_product([a]) == 1 for a, b in zip(shape[-2::-1], rows_shape[-2::-1]))


def _split_index_map(extents, row: int):
    """(i0, .., i_{n-1}) -> (row index, element of the row) for rows of `row` elements of the row-major order, or
    None when the rows do not split one axis evenly: the axis j where they start, `row` being m * prod(extents[j+1:])
    with m dividing extents[j]: (fuse(i0..i_{j-1}) * (e_j / m) + i_j // m, (i_j % m) * prod(..) + fuse(i_{j+1}..))."""
    from tvm import tirx
    from tvm.ir.prim.expr import IntImm

    inner = 1
    for j in range(len(extents) - 1, -1, -1):
        if row % inner:
            return None
        m = row // inner
        dim = extents[j]
        if m == 1 or (isinstance(dim, IntImm) and dim.value % m == 0):
            break
        if not isinstance(dim, IntImm):
            return None
        inner *= dim.value
    else:
        return None

    def fuse(iters, dims):
        index = iters[0] if iters else None
        for it, d in zip(iters[1:], dims[1:]):
            index = index * d + it
        return index

    def mapping(*iters):
        outer = fuse(iters[:j], extents[:j])
        if m == 1:
            head, tail = iters[j] if outer is None else outer * extents[j] + iters[j], None
        else:
            per = extents[j].value // m
            head = tirx.floordiv(iters[j], m) if outer is None else outer * per + tirx.floordiv(iters[j], m)
            tail = tirx.floormod(iters[j], m)
        rest = fuse(iters[j + 1:], extents[j + 1:])
        if tail is None:
            elem = rest if rest is not None else tirx.const(0, iters[0].ty)
        else:
            elem = tail if rest is None else tail * inner + rest
        return [head, elem]

    return tirx.IndexMap.from_func(mapping, ndim=len(extents))


def whole_rows_a_block(ty_len: int, lanes: int, rows: int | None, rows_multiple: int) -> int:
    """Rows a block, from `ty_len` down: whole rows (the row count a multiple of it), so that no predicate on the
    row guards the loads. A predicate there made every 16-byte load conditional, into the registers the previous
    vector's adds were reading: the loads of a lane went one at a time (LayerNorm (batch, seq, 1024) fp32 with 4
    rows a block, the last predicated, took 1.5x its static twin's time on an H200). A block keeps a warp of
    threads at least (rows of 8 lanes 4 a block), predicated when the row count is symbolic and odd."""
    while rows_multiple % ty_len and (rows is not None or ty_len * lanes > WARP):
        ty_len //= 2
    return ty_len


def _same_extents(a, b) -> bool:
    """Equal extents, whatever their integer types (a reduction block's int64 domain against int32 loops)."""
    from tvm import sym

    analyzer = sym.Analyzer()
    return len(a) == len(b) and all(analyzer.can_prove_equal(x, y) for x, y in zip(a, b))


def _row_layout(row_length: int, itemsize: int, row_multiple: int | None = None,
                long_lanes: int = WARP, symbolic: bool = False) -> tuple[int, int]:
    """(lanes per row, elements per vector): a short row gives each lane LANE_BYTES, a long one spreads over the
    warp, or over half or a quarter of it where the row's vectors then split evenly, MAX_VECTOR_STEPS at most a lane
    (fp16 384: 16 lanes of 3 vectors, which 32 lanes left scalar: 77 % of the DRAM roofline); (WARP, 1), when it does
    not split into whole 16-byte vectors per lane. `row_length`: the row's (largest) length, `row_multiple`: what
    it is surely a multiple of; a `symbolic` row's steps are predicated at its end: whole vectors suffice."""
    vec = VECTOR_BYTES // itemsize
    lanes = WARP if row_length <= MAX_ROW else long_lanes
    if row_length <= SHORT_ROW:
        lanes = min(WARP, max(1, row_length * itemsize // LANE_BYTES))
        lanes = 1 << (lanes.bit_length() - 1)  # a power of two: the warp shuffles reduce over aligned groups
    elif lanes == WARP and row_length % (WARP * vec):  # the warp's lanes would not get whole vectors each
        lanes = next((n for n in (WARP // 2, WARP // 4)
                      if row_length % (n * vec) == 0 and row_length // (n * vec) <= MAX_VECTOR_STEPS), WARP)
    multiple = row_length if row_multiple is None else row_multiple
    if vec < 2 or multiple % (vec if symbolic else lanes * vec):
        return lanes if lanes > WARP else WARP, 1
    return lanes, vec


def run_steps(vec: int, row_length: int, lanes: int) -> int:
    """Steps of a run over a row of symbolic length. Scalar: RUN_STEPS. In vectors: enough for the row's largest
    length in one run, at most MAX_VECTOR_STEPS: a lane's loads of the whole row then go out together, as in the
    static twin's unrolled walk (`divisible_dims.py` bounds each kernel's rows to a bucket of lengths)."""
    if vec == 1:
        return RUN_STEPS
    return max(1, min(MAX_VECTOR_STEPS, -(-row_length // (lanes * vec))))
