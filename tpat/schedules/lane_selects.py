"""Selections that are the same for every element of a vector, written so that the vectorizer sees it.

Concat reads `if_then_else(256 <= col, in1[.., col - 256], in0[.., col])`: which input an element comes from is
decided per element. Vectorised over 8 halves of `col`, the condition is a vector, and the vector loads of both
branches cannot be used: CUDA got 8 scalar loads, each behind its own branch (concat3 fp16: 15 us against
torch.compile's 12.3). When the boundary (256) is a multiple of the vector's lanes, every element of an aligned
vector falls on the same side of it, so `c <= col` is `c <= col // lanes * lanes`, which the vectorizer turns into
one scalar test over the vector's first element; the branches then load whole vectors.
"""

from __future__ import annotations

from .analysis import VECTOR_BYTES

LANE_FORMS = ("LE", "LT", "GE", "GT")


def lane_uniform_selects(func):
    """`func` with each comparison of a block's innermost var against a constant multiple of that block's
    vector lanes (16 bytes of its output) compared at the var's vector start instead: the same truth values
    (the constant is on a vector boundary), one test per vector. Blocks without such tests are unchanged."""
    import tvm_ffi
    from tvm import s_tir, tirx
    from tvm.ir.prim.expr import IntImm

    from ..ir.dtypes import BY_NAME

    lanes_of = {}  # innermost block var -> lanes of the block's output

    def note(block):
        if block.iter_vars and len(block.writes) == 1:
            dtype = BY_NAME.get(str(block.writes[0].source.dtype))
            if dtype is not None and VECTOR_BYTES // dtype.itemsize >= 2:
                lanes_of[block.iter_vars[-1].var] = VECTOR_BYTES // dtype.itemsize

    tvm_ffi.structural_walk(func.body, (s_tir.SBlock, note))
    if not lanes_of:
        return func

    def at_vector_start(var, lanes):
        step = tirx.const(lanes, var.ty)
        return tirx.FloorDiv(var, step) * step

    def rewrite(cmp):
        for first, (side, other) in ((True, (cmp.a, cmp.b)), (False, (cmp.b, cmp.a))):
            lanes = next((n for v, n in lanes_of.items() if side.same_as(v)), None)
            if lanes and isinstance(other, IntImm) and other.value % lanes == 0:
                var = at_vector_start(side, lanes)
                return type(cmp)(var, other) if first else type(cmp)(other, var)
        return cmp

    body = tvm_ffi.structural_map(func.body, (tuple(getattr(tirx, form) for form in LANE_FORMS), rewrite))
    return func.with_body(body)
