"""Small facts about TIR functions and blocks that tpat's rules rely on."""

from __future__ import annotations

VECTOR_BYTES = 16  # the widest global load/store a CUDA thread issues (float4, uint4)


def inlined_blocks(rule, func, target):
    """(schedule, the blocks left after dlight's inlining of contiguous spatial blocks), or None when `rule` does not
    apply to this function or target: the preamble every tpat rule shares with dlight's."""
    from tvm import s_tir, tirx
    from tvm.s_tir.dlight.analysis import normalize_prim_func
    from tvm.s_tir.dlight.base import try_inline_contiguous_spatial

    if not isinstance(func, tirx.PrimFunc) or not rule.is_target_available(target):
        return None
    sch = s_tir.Schedule(func)
    return sch, try_inline_contiguous_spatial(sch, normalize_prim_func(sch))


def writes_at_iteration_point(block) -> bool:
    """The block is spatial, writes one buffer, and writes it at exactly its block vars, in order."""
    if any(int(iv.iter_type) != 0 for iv in block.iter_vars) or len(block.writes) != 1:  # 0: data parallel
        return False
    return at_iteration_point(block, block.writes[0])


def at_iteration_point(block, access) -> bool:
    """`access` (a buffer region of `block`) is at exactly the block's vars, in order: element i of the block is
    element i of the buffer (a transpose of a square tensor has its input's shape, but not this)."""
    from tvm import tirx
    from tvm.ir.prim.expr import IntImm

    # dlight's normalisation drops unit block vars (batch 1): the region then holds a constant 0 on that axis
    def unit(rng, dim) -> bool:
        return isinstance(rng.min, IntImm) and rng.min.value == 0 and isinstance(dim, IntImm) and dim.value == 1

    region = [rng for rng, dim in zip(access.region, access.source.shape) if not unit(rng, dim)]
    block_vars = [iv.var for iv in block.iter_vars]
    if len(region) != len(block_vars):
        return False
    return all(isinstance(rng.min, tirx.Var) and rng.min.same_as(var) for rng, var in zip(region, block_vars))


def static_product(extents) -> int | None:
    """The product of extents, or None when one is symbolic."""
    from tvm.ir.prim.expr import IntImm

    total = 1
    for extent in extents:
        if isinstance(extent, IntImm):
            extent = extent.value
        if not isinstance(extent, int):
            return None
        total *= extent
    return total


def max_product(extents, dim_max) -> int | None:
    """The product of extents at the largest value of each symbolic dim (`dim_max`: name -> max), or None when
    one is not known to be bounded: what a rule sizes a symbolic row or grid for."""
    from tvm import sym, tirx
    from tvm.ir.prim.expr import IntImm

    total = 1
    for extent in extents:
        if isinstance(extent, (IntImm, int)):
            total *= int(extent)
            continue
        free = tirx.analysis.undefined_vars(extent)
        if any(var.name not in dim_max for var in free):
            return None
        analyzer = sym.Analyzer()
        for var in free:
            analyzer.bind(var, tirx.const(dim_max[var.name], str(var.ty)))
        value = analyzer.simplify(extent)
        if not isinstance(value, IntImm):
            return None
        total *= value.value
    return total


def equal_products(a, b) -> bool:
    """Two products of extents (static or symbolic) are provably equal."""
    from tvm import sym

    def product(extents):
        total = None
        for extent in extents:
            total = extent if total is None else total * extent
        return total

    pa, pb = product(list(a)), product(list(b))
    if pa is None or pb is None:
        return pa is None and pb is None
    return bool(sym.Analyzer().can_prove_equal(pa, pb))


def static_factor(extents) -> int:
    """What a product of extents is surely a multiple of: its constants times the constant factor of each symbolic
    extent (`seq * 8` counts 8, a bare `seq` 1; TVM's modular-set analysis)."""
    from tvm import sym
    from tvm.ir.prim.expr import IntImm

    total = 1
    for extent in extents:
        if isinstance(extent, IntImm):
            total *= extent.value
        elif isinstance(extent, int):
            total *= extent
        else:
            modular = sym.Analyzer().modular_set(extent)
            total *= abs(int(modular.coeff)) if int(modular.base) == 0 and int(modular.coeff) > 0 else 1
    return total


def fused_index_map(extents, leading: int, first_apart: bool = False):
    """(i0, .., i_{n-1}) -> (row, element): the first `leading` axes fused into the row, the rest into the element
    (just the row, a flat index, when all axes are leading). `first_apart`: (i0, row within i0[, element]), the
    first axis kept out of the row."""
    from tvm import tirx

    def fuse(iters, dims):
        index = iters[0]
        for it, dim in zip(iters[1:], dims[1:]):
            index = index * dim + it
        return index

    def mapping(*iters):
        row = [iters[0], fuse(iters[1:leading], extents[1:leading])] if first_apart else \
            [fuse(iters[:leading], extents[:leading])]
        return row + [fuse(iters[leading:], extents[leading:])] if len(iters) > leading else row

    return tirx.IndexMap.from_func(mapping, ndim=len(extents))


def same_shape(a, b) -> bool:
    """Two shapes (lists of extents, static or symbolic) are the same, extent by extent."""
    a, b = list(a), list(b)
    return len(a) == len(b) and all(str(x) == str(y) for x, y in zip(a, b))
