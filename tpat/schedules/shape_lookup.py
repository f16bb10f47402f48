"""A static dim read from a tensor's shape is a constant, even where other dims of that tensor are symbolic.

The relax ONNX frontend normalises negative indices (GatherElements, ...) as `where(i < 0, i + dim, i)`, reading
`dim` as `take(shape_to_tensor(shape_of(data)), k)`. With every dim static that folds to a constant; with a
dynamic batch it does not, even when dim k itself is static, and the plugin ran two extra one-thread kernels
(writing the shape to memory, then picking dim k) before the gather. Here `take(shape_to_tensor(s), k)` with a
constant k is replaced by the constant when s's dim k is static, and FoldConstant and FuseOps do the rest.
"""

from __future__ import annotations


def fold_static_dim_lookups():
    """A relax module pass, to run before LegalizeOps."""
    import tvm
    from tvm import relax

    @relax.expr_functor.mutator
    class Folder(relax.PyExprMutator):
        def visit_call_(self, call):
            call = self.visit_expr_post_order(call)
            value = _static_dim(self, call)
            return call if value is None else relax.const(value, "int64")

    @tvm.transform.module_pass(opt_level=0, name="tpat.FoldStaticDimLookups")
    def transform(mod, _ctx):
        for gv, func in list(mod.functions.items()):
            if isinstance(func, relax.Function):
                mod[gv] = Folder(mod).visit_expr(func)
        return mod

    return transform


def _static_dim(mutator, call) -> int | None:
    """The value of `take(shape_to_tensor(s), k)` when k is a constant and s's dim k is static, else None."""
    from tvm import relax

    if getattr(call.op, "name", None) != "relax.take" or len(call.args) != 2:
        return None
    data, index = call.args
    array = _constant(index)
    if array is None or array.shape != ():
        return None
    bound = mutator.lookup_binding(data) if isinstance(data, relax.Var) else data
    if not isinstance(bound, relax.Call) or getattr(bound.op, "name", None) != "relax.shape_to_tensor":
        return None
    values = getattr(getattr(bound.args[0], "ty", None), "values", None)
    if values is None:
        return None
    k = int(array)
    k = k + len(values) if k < 0 else k
    if not 0 <= k < len(values):
        return None
    dim = values[k]
    return int(dim.value) if type(dim).__name__ == "IntImm" else None


def _constant(expr):
    """The numpy value of a relax constant (GenericConst in TVM 0.27), else None."""
    value = getattr(expr, "value", None) if type(expr).__name__ in ("GenericConst", "Constant") else None
    value = value if value is not None else getattr(expr, "data", None)
    return value.numpy() if hasattr(value, "numpy") else None
