"""A second kernel for a symbolic inner dim that is a whole number of 16-byte vectors, chosen at launch.

A row of symbolic length (the attention Softmax with a dynamic sequence) cannot be read in vectors by a kernel
that must serve every length: a vector may straddle the row's end or start off its alignment. So each such row
was read one element a lane, and the symbolic kernel took 2.4-4.3x its static twin's time on an H200 (28.6 us
against 6.7 at sequence 128, fp16). Yet real lengths are nearly always multiples of 8.

For each unscheduled PrimFunc whose output's innermost dim is a bare symbolic dim `n`, this builds a variant with
`n := V * n_divV` (V elements a 16-byte vector of the output's dtype) and schedules it with the same rules, which
now see rows that are whole vectors (`analysis.static_factor` reads the factor V). Where the rules did vectorize
it, the two schedules become one PrimFunc,
`if (n % V == 0 && n >= W) {n_divV = n / V; variant} else {generic}`: after
SplitHostDevice that is a host branch between two kernels, which the launch-plan reader turns into guarded
launches (`Kernel.when`), so the plugin picks the vector kernel whenever the runtime dims allow it. Variants that
came out no different in kind (no vectorized loop) are dropped: the plan keeps one kernel.

W is MIN_BYTES of the dim (two vectors a lane of a 32-lane warp): on an H200 the attention Softmax's vector kernel
took 227/170/39 us at sequence 512/384/128 (fp16) against the generic kernel's 306/183/29, and 269/188/40 (fp32)
against 326/193/29: it wins where a lane has vectors to walk and loses where each lane has one step, the per-row
index work and the register staging of one vector then costing more than the wider loads save.
"""

from __future__ import annotations

import logging

from .analysis import VECTOR_BYTES

log = logging.getLogger(__name__)
MIN_BYTES = 1024  # the vector kernel from rows of two 16-byte vectors a lane of a warp (see the module docstring)
SUFFIX = "__div"  # the variant's name while it is scheduled: <name>__div<V>


def with_divisible_variants(mod, dim_max: dict[str, int], schedule):
    """`schedule(mod, dim_max)`, then each eligible function's vector-divisible variant scheduled on its own and,
    where it came out vectorized, merged into the function behind a runtime test. A variant the rules cannot
    schedule is dropped (logged with -v): the function keeps its one generic kernel, as before this pass."""
    import tvm

    candidates = []  # before scheduling: dlight's pass may update the module's functions in place
    for gv, func in mod.functions.items():
        found = _candidate(func, dim_max)
        if found is not None:
            candidates.append((gv.name_hint, func, *found))
    scheduled = schedule(mod, dim_max)
    for original, func, n, vec in candidates:
        variant, m = _divided(func, n, vec)
        name = f"{original}{SUFFIX}{vec}"
        try:
            variant = schedule(tvm.IRModule({name: variant}), {**dim_max, m.name: dim_max[n.name] // vec})[name]
        except Exception as exc:  # noqa: BLE001 - the generic kernel stands; a variant is only an optimisation
            log.debug("no vector variant of %s: %s: %s", original, type(exc).__name__, exc)
            continue
        if not _vectorized(variant):
            continue
        target = scheduled.get_global_var(original)
        merged = _merged(scheduled[target], variant, n, m, vec)
        try:
            _lower(merged, original)
        except Exception as exc:  # noqa: BLE001 - as above
            log.debug("vector variant of %s dropped: it does not lower: %s: %s", original, type(exc).__name__, exc)
            continue
        scheduled.update_func(target, merged)
    return scheduled


def _lower(func, name: str) -> None:
    """TVM's TIR pipeline on `func` alone, or its error: a kernel whose block synchronises (a block-wide
    reduction over shared memory) may not sit under the branch -- TVM inserts no barrier inside a condition, even
    one that is the same for every thread ("Cannot insert syncs inside condition")."""
    import tvm
    from tvm import tirx

    host_target = tvm.target.Target(tvm.target.Target.current(), host="llvm")
    mod = tirx.transform.BindTarget(host_target)(tvm.IRModule({name: func.with_attr("global_symbol", name)}))
    pipeline, _, _ = tirx.get_default_tir_pipeline(host_target)
    pipeline(mod)


def _candidate(func, dim_max: dict[str, int]):
    """(n, V) when `func` is an unscheduled PrimFunc writing (last parameter: destination passing) a tensor whose
    innermost dim is a bare symbolic dim n of the plugin that can reach W (MIN_BYTES), with V > 1 a vector."""
    from tvm import tirx
    from tvm.tirx.buffer import BufferType

    from ..ir.dtypes import BY_NAME

    if not isinstance(func, tirx.PrimFunc) or func.attrs is not None and func.attrs.get("tirx.is_scheduled"):
        return None
    if not func.params or not isinstance(func.params[-1].ty, BufferType):
        return None
    out = func.params[-1].ty
    dtype = BY_NAME.get(str(out.dtype))
    if not out.shape or dtype is None:
        return None
    n = out.shape[-1]
    vec = VECTOR_BYTES // dtype.itemsize
    if type(n).__name__ not in ("Var", "SizeVar") or n.name not in dim_max or vec < 2:
        return None
    if dim_max[n.name] * dtype.itemsize < MIN_BYTES:
        return None  # the vector kernel would never run
    return n, vec


def _divided(func, n, vec: int):
    """(`func` with every use of n, its parameter types included, replaced by V * n_divV; n_divV)."""
    import tvm_ffi
    from tvm import tirx

    m = tirx.Var(f"{n.name}_div{vec}", n.ty)
    return tvm_ffi.structural_map(func, (type(n), lambda v: m * vec if v.same_as(n) else v)), m


def _vectorized(func) -> bool:
    import tvm_ffi
    from tvm import tirx

    found = []
    tvm_ffi.structural_walk(func.body, (tirx.For, lambda loop: found.append(loop)
                                        if loop.kind == tirx.ForKind.VECTORIZED else None))
    return bool(found)


def _merged(generic, variant, n, m, vec: int):
    """One PrimFunc: `if (n % V == 0 && n >= W) { n_divV = n / V; variant's body } else { generic's body }`. In the
    branch the variant's tensors are views of the generic's parameters (`DeclBuffer`) typed with V * n_divV: its
    index arithmetic stays in n_divV and simplifies as it did when it was scheduled."""
    from tvm import tirx

    views = [tirx.DeclBuffer(v, data=tirx.buffer_data(g)) for v, g in zip(variant.params, generic.params)
             if not v.same_as(g)]
    # n % V == 0 and n >= W, as one equality (launch guards are equalities of the dims, or their negations):
    # (n % V) * W + min(n, W) == W
    span = tirx.const(MIN_BYTES // VECTOR_BYTES * vec, n.ty)
    divisible = tirx.EQ(tirx.floormod(n, tirx.const(vec, n.ty)) * span + tirx.min(n, span), span)
    then = tirx.SeqStmt([tirx.Bind(m, tirx.floordiv(n, tirx.const(vec, n.ty)))] + views + [variant.body])
    return generic.with_body(tirx.IfThenElse(divisible, then, generic.body))
