"""Let gathers fuse with the index arithmetic in front of them.

TVM's op-pattern analysis marks a gather (GatherND, Gather, GatherElements) opaque because it reads at indices
loaded from another tensor, so FuseOps keeps the ONNX importer's index normalisation (`where(i < 0, i + dim, i)`)
in a kernel of its own: two launches where one does, which for the small gathers TPAT benchmarks is most of the
time. For fusion what matters is that each output element is computed on its own: spatial blocks, each writing
at exactly its iteration point. Such functions are re-marked injective, and dlight then inlines
the index arithmetic into the gather.
"""

from __future__ import annotations

from .analysis import writes_at_iteration_point

OPAQUE = 8
INJECTIVE = 2


def mark_gathers_injective():
    """A relax module pass, to run after AnnotateTIROpPattern and before FuseOps."""
    import tvm
    from tvm import tirx

    @tvm.transform.module_pass(opt_level=0, name="tpat.MarkGathersInjective")
    def transform(mod, _ctx):
        updates = {}
        for gv, func in mod.functions.items():
            if isinstance(func, tirx.PrimFunc) and _is_pointwise_writer(func):
                updates[gv] = func.with_attr("op_pattern", INJECTIVE)
        for gv, func in updates.items():
            mod[gv] = func
        return mod

    return transform


def _is_pointwise_writer(func) -> bool:
    from tvm import s_tir

    pattern = func.attrs.get("op_pattern") if func.attrs is not None else None
    if pattern is None or int(pattern) != OPAQUE:
        return False
    try:
        sch = s_tir.Schedule(func)
        blocks = sch.get_child_blocks(sch.get_sblock("root"))
    except Exception:  # no root block (an extern with hand-written IR, e.g. scatter): leave it opaque
        return False
    return bool(blocks) and all(writes_at_iteration_point(sch.get(block)) for block in blocks)
