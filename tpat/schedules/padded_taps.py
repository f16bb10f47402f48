"""A pooling window's padded taps loaded unconditionally, from an index kept inside the input: no branch a tap.

A pooling thread walks its window (`reduction.RowReduce._per_thread`); a tap that may fall on the padding reads
`if_then_else(inside, x[i], lowest)`. CUDA has no conditional expression that skips a load, so TVM writes each such
tap as a branch (`if (inside) v = x[i]; else v = lowest;`): the window's code split into basic blocks, nvcc kept
the running maximum in memory across them (MaxPool 3x3/2 fp32: a store to the output at each of 6 taps, the loads
of the taps behind branches issued apart) and 37.3 us on an H200 for (32, 64, 112, 112), 80 % of the DRAM
roofline.

In a loop the schedule marks (pragma PRAGMA), each such tap becomes `inside ? x[inside ? i : 0] : lowest`: the
load unconditional, from element 0 where the tap is outside (element 0 exists: the kernel is launched only for a
non-empty input), the choice a select; the index and the load are bound ahead of the select (inside `?:` nvcc
branched around them). The window is one basic block, its loads issued together, its maximum a register stored
once: 35.4 us (85 %). Only loads of inputs (global buffers the kernel never writes) at indices of pure arithmetic
are rewritten (`unpredicated_loads._movable`). The schedule marks a thread's single window only: where a thread
walks a word of windows (fp16), nvcc predicates the taps' loads already, and selects made it slower.

It runs on the device module with `unpredicated_loads`, before TVM's device passes (`device_pipeline.py`).
"""

from __future__ import annotations

#: the loop annotation; a "pragma_" one stays in the lowered kernel, as an AttrStmt of that key around the body
PRAGMA = "pragma_tpat_padded_taps"


def padded_taps():
    """The module pass: each marked loop's padded taps rewritten (see the module docstring)."""
    from .device_pass import body_pass

    return body_pass("tpat.PaddedTaps", _rewritten)


def _rewritten(body):
    import tvm_ffi
    from tvm import tirx

    from .unpredicated_loads import _written

    written = _written(body)

    def attr(node):
        if node.attr_key != PRAGMA:
            return node
        return _selected_taps(node.body, written)

    return tvm_ffi.structural_map(body, (tirx.AttrStmt, attr))


def _selected_taps(stmt, written: list):
    import tvm
    import tvm_ffi
    from tvm import tirx
    from tvm.ir import TensorLoad

    from .unpredicated_loads import _movable, _safe_index

    if_then_else = tvm.ir.Op.get("prim.if_then_else")

    def call(node):
        if not node.op.same_as(if_then_else):
            return node
        cond, load, outside = node.args
        if not isinstance(load, TensorLoad) or not _movable(load, [], written):
            return node
        # the indices and the load bound ahead of the selects: inside `?:`, nvcc branched around each
        indices = [tirx.Var(f"{load.source.name}_at{n}", i.ty) for n, i in enumerate(load.indices)]
        tap = tirx.Var(f"{load.source.name}_tap", load.ty)
        safe = tirx.BufferLoad(load.source, [_safe_index(cond, i) for i in indices])
        expr = tirx.Let(tap, safe, tirx.Select(cond, tap, outside))
        for var, index in reversed(list(zip(indices, load.indices))):
            expr = tirx.Let(var, index, expr)
        return expr

    return tvm_ffi.structural_map(stmt, (tvm.ir.Call, call))
