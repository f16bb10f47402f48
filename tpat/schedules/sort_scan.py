"""tpat's kernels for sort-and-scan ops, dispatched ahead of TVM's own (`DispatchSortScan`).

TVM's CUDA pipeline turns relax.topk (and cumsum, sort) into its GPU library kernels before legalization, so a
`legalize_map` entry never sees them: this pass runs first and replaces the calls tpat has a kernel for (TopK
with a small k: `topk.py`; CumSum along the last axis: `cumsum.py`); the rest pass on to TVM's dispatcher unchanged.
"""

from __future__ import annotations


def dispatch_sort_scan():
    """A module pass rewriting the eligible sort/scan calls of every relax function into tpat's kernels."""
    import tvm
    from tvm import relax

    from .cumsum import cumsum_call
    from .topk import topk_call

    replacements = {"relax.topk": topk_call, "relax.cumsum": cumsum_call}

    @relax.expr_functor.mutator
    class Dispatcher(relax.PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if isinstance(call.op, tvm.ir.Op) and call.op.name in replacements:
                replaced = replacements[call.op.name](self.builder_, call)
                if replaced is not None:
                    return replaced
            return call

    @tvm.transform.module_pass(opt_level=0, name="TpatDispatchSortScan")
    def transform(mod, _ctx):
        dispatcher = Dispatcher(mod)
        for gv, func in mod.functions_items():
            if isinstance(func, relax.Function):
                dispatcher.builder_.update_func(gv, dispatcher.visit_expr(func))
        return dispatcher.builder_.finalize()

    return transform
