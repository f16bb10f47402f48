"""Bounds on a quotient compared without the division: `x // c < y` as `x < y * c` in 64-bit kernels.

A kernel whose grid covers rows of a constant number of vectors (OneHot (batch, 26, 1000): 125 vectors a row)
finds its row for the tail's predicate as `thread // 125 < rows`. With a symbolic batch the rows are a 64-bit
parameter (the dims are int64 and the kernel reads int64 data, so its index math stays 64-bit where it meets
them), and the predicate was a 64-bit division a thread beside the 32-bit ones of its addresses: the fp16 OneHot's
symbolic kernel took 39.0 us on an H200 against its static twin's 35.5 (no predicate). For c > 0 and floor
division, `x // c < y` holds exactly when `x < y * c` (and `x // c >= y` when `x >= y * c`), for every integer x
and y; the product is left to 64-bit comparisons, where it cannot overflow at any size a tensor has. 32-bit
comparisons keep their division (y * c could pass 2^31 where x // c does not).

It runs on the device module with `unpredicated_loads`, before TVM's device passes (`device_pipeline.py`):
the launch plan, read at SplitHostDevice, is not affected.
"""

from __future__ import annotations


def division_free_bounds():
    """The module pass: every PrimFunc's comparisons of a floor quotient by a positive constant rewritten, the
    quotient written out or bound to a variable first (TVM's common-subexpression pass binds it)."""
    from .device_pass import body_pass

    return body_pass("tpat.DivisionFreeBounds", _rewritten)


def _rewritten(body):
    import tvm_ffi
    from tvm import tirx

    bound = {}  # variable -> the value it is bound to (Bind / LetStmt: each variable bound once)

    def binding(node):
        bound[node.var] = node.value

    tvm_ffi.structural_walk(body, [(tirx.Bind, binding), (tirx.LetStmt, binding)])

    def quotient(expr):
        expr = bound.get(expr, expr) if isinstance(expr, tirx.Var) else expr
        if (isinstance(expr, tirx.FloorDiv) and isinstance(expr.b, tirx.IntImm) and expr.b.value > 0
                and str(expr.ty) == "int64"):
            return expr
        return None

    def rewrite(cmp, kind):
        div = quotient(cmp.a)
        if div is None or str(cmp.b.ty) != "int64":
            return cmp
        return kind(div.a, cmp.b * tirx.const(div.b.value, "int64"))

    return tvm_ffi.structural_map(body, [(tirx.LT, lambda e: rewrite(e, tirx.LT)),
                                         (tirx.GE, lambda e: rewrite(e, tirx.GE))])
