"""The passes from a relax module to scheduled TIR: TVM's CUDA pipeline with tpat's rules in front of dlight's.

`fused` is where tuning starts and where tuning records apply (the workloads must match structurally), so the
custom legalizations live there; `default_schedules` schedules whatever the records leave unscheduled.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def legalize_map() -> dict:
    """relax op -> tpat legalization, for the ops whose stock GPU legalization is slow (see each module)."""
    from .accumulate import legalize_mean, legalize_sum
    from .group_norm import legalize_group_norm
    from .resize import legalize_resize2d
    from .scatter_elements import legalize_scatter_elements
    from .scatter_nd import legalize_scatter_nd
    from .softmax import legalize_softmax

    return {"relax.scatter_nd": legalize_scatter_nd, "relax.nn.softmax": legalize_softmax,
            "relax.image.resize2d": legalize_resize2d, "relax.scatter_elements": legalize_scatter_elements,
            "relax.sum": legalize_sum, "relax.mean": legalize_mean, "relax.nn.group_norm": legalize_group_norm}


def fused_passes(target) -> list:
    from tvm import relax
    from tvm.relax.backend.cuda import pipeline as cuda_pipeline

    from .gather_pattern import mark_gathers_injective
    from .row_pattern import mark_row_reductions_fusible
    from .shape_lookup import fold_static_dim_lookups
    from .sort_scan import dispatch_sort_scan

    return [dispatch_sort_scan()] + list(cuda_pipeline.library_dispatch_passes(target)) + [
        fold_static_dim_lookups(), relax.transform.LegalizeOps(customize_legalize_map=legalize_map()),
        relax.transform.AnnotateTIROpPattern(), mark_gathers_injective(), mark_row_reductions_fusible(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(), relax.transform.FuseTIR()]


def default_schedules(dim_max: dict[str, int] | None = None):
    """dlight's default GPU rules (as in TVM's CUDA pipeline), with tpat's rules tried first; with -v the log
    says which rule scheduled each function. `dim_max`: the largest value of each symbolic dim, for the rules
    that size work by it (rows of symbolic length)."""
    from tvm.s_tir import dlight as dl

    from .data_dependent import DataDependentLoops
    from .elementwise import VectorizedElementwise
    from .reduction import RowReduce
    from .row_reduction import ShortRowReduction
    from .transpose import TiledTranspose

    rules = [DataDependentLoops(), dl.gpu.Matmul(), RowReduce(dim_max), dl.gpu.GEMV(), dl.gpu.Reduction(), ShortRowReduction(dim_max),
             dl.gpu.GeneralReduction(), TiledTranspose(), VectorizedElementwise(dim_max), dl.gpu.Fallback()]
    return dl.ApplyDefaultSchedule(*(_logged(rule, declines=type(rule).__module__.startswith("tvm."))
                                     for rule in rules))


def _logged(rule, declines: bool = False):
    """`rule`, logging (debug) the functions it schedules: the first rule that returns a schedule wins.

    `declines`: an exception in the rule means it does not apply (dlight's rules assert on shapes they do not
    handle, e.g. Reduction on RoiAlign's loops, instead of returning None): the next rule is tried. Each rule
    schedules a fresh copy of the function, so a rule that gave up leaves nothing behind. tpat's own rules keep
    their exceptions: there one is a bug."""
    from tvm.s_tir import dlight as dl

    def apply(func, target, tunable):
        try:
            space = rule.apply(func, target, tunable)
        except Exception as exc:  # noqa: BLE001 - see `declines`
            if not declines:
                raise
            log.debug("schedule rule %s declined (%s: %s)", type(rule).__name__, type(exc).__name__, exc)
            return None
        if space is not None and log.isEnabledFor(logging.DEBUG):
            out = func.params[-1] if func.params else None  # destination passing: the output comes last
            shape = list(getattr(getattr(out, "ty", None), "shape", []) or [])
            log.debug("schedule rule %s for the kernel writing %s%s", type(rule).__name__,
                      getattr(out, "name", "?"), shape)
        return space

    return dl.ScheduleRule.from_callable(type(rule).__name__)(apply)


def default_scheduled(mod, dim_max: dict[str, int]):
    """`mod` with every function not yet scheduled given tpat's default schedule, index math narrowed where exact.
    Lowering and the tune stage's timing of the default both go through here, so they judge the same kernels."""
    from .divisible_dims import with_divisible_variants
    from .narrow_index import narrow_indices

    scheduled = with_divisible_variants(mod, dim_max, lambda m, dims: default_schedules(dims)(m))
    return narrow_indices(scheduled, dim_max)

