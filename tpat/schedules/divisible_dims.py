"""Vector kernels for a symbolic inner dim that is a whole number of 16-byte vectors, one per row-length bucket,
chosen at launch.

A row of symbolic length (the attention Softmax with a dynamic sequence) cannot be read in vectors by a kernel
that must serve every length: a vector may straddle the row's end or start off its alignment. So each such row
was read one element a lane, and the symbolic kernel took 2.4-4.3x its static twin's time on an H200 (28.6 us
against 6.7 at sequence 128, fp16). Yet real lengths are nearly always multiples of 8.

For each unscheduled PrimFunc whose output's innermost dim is a bare symbolic dim `n`, this builds a variant with
`n := V * n_divV` (V elements a 16-byte vector of the output's dtype) and schedules it with the same rules, which
see rows that are whole vectors (`analysis.static_factor` reads the factor V).

One vector kernel for every length was not enough: a kernel laid out for the longest row gives a short row's lanes
nothing to do, and one whose lanes walk a long row in a loop of runs has one run's loads in flight at a time.
On an H200 the attention Softmax's one vector kernel (32 lanes, a vector a lane a run) took 227/170/39 us at
sequence 512/384/128 (fp16) against the static twins' 116/68/6.7. So the variant is scheduled once per bucket of
row lengths, (B', B] for B = the dim's largest value and the lengths of the ladder 2^k, 3 * 2^k below it (..,
128, 192, 256, 384, 512) down to rows of FLOOR_BYTES, B' the next bound down: the rules see the bucket's bound as
the dim's largest value (`dim_max`), which sets the lanes a row and lets a lane's steps cover the whole row in one
unrolled run, as the static twin's do. A bucket whose kernel comes out the same as the next larger one's is left
to it; one that did not vectorize is dropped, and so are the longest buckets' kernels while the merged function
does not lower (a block a row cannot sit under a branch, see `_lower`). With buckets of (B/2, B] the kernels of
sequence 384 and 128 (fp16, H200) still took 1.25x and 1.38x their static twins (lanes idle at the row's end,
a predicate and a dead step for each vector), 1.13x and 1.16x in fp32.

A length on the ladder gets more: a kernel scheduled for n == B, the static twin's own (no predicate, no step
past the row's end; the batch may still be symbolic). Real lengths sit on it far more often than off it (BERT's
128/384/512, 256, 192). On the H200 the fp16 kernels at sequence 128/384/512 then match their static twins
(6.1/61.1/108.3 us against 6.1/60.6/108.6); off the ladder the bucket's kernel serves, 1.04x/1.24x/1.17x the
static twins at 200/320/448.

The kernels become one PrimFunc, `if (n % V == 0) { n_divV = n / V; if (n == B_1) {..} .. else if (n <= B_k)
{..} .. else {..} } else {generic}`: after SplitHostDevice these are host branches between kernels, which the
launch-plan reader turns into guarded launches (`Kernel.when`), so the plugin picks, at run time, the kernel for
the row's length or bucket whenever the row is whole vectors, and the generic kernel otherwise.
"""

from __future__ import annotations

import logging

from .analysis import VECTOR_BYTES

log = logging.getLogger(__name__)
FLOOR_BYTES = 256  # the smallest bucket: rows up to 256 bytes (8 lanes of 32 bytes), every shorter row too
MAX_BUCKETS = 8  # bucket kernels a function at most: 256 bytes to 4 KiB
SUFFIX = "__div"  # a variant's name while it is scheduled: <name>__div<V>_<bound>


def with_divisible_variants(mod, dim_max: dict[str, int], schedule):
    """`schedule(mod, dim_max)`, then each eligible function's vector-divisible variants scheduled on their own,
    one per bucket of lengths, and merged into the function behind runtime tests where they came out vectorized.
    A variant the rules cannot schedule is dropped (logged with -v); with none left the function keeps its one
    generic kernel, as before this pass."""
    candidates = []  # before scheduling: dlight's pass may update the module's functions in place
    for gv, func in mod.functions.items():
        found = _candidate(func, dim_max)
        if found is not None:
            candidates.append((gv.name_hint, func, *found))
    scheduled = schedule(mod, dim_max)
    for original, func, n, vec, itemsize in candidates:
        variant, m = _divided(func, n, vec)
        kernels, exact = [], []  # (bound, scheduled kernel), longest first: buckets' kernels, kernels at n == bound
        for bound in buckets(dim_max[n.name], itemsize):
            name = f"{original}{SUFFIX}{vec}_{bound}"
            kernel = _scheduled(schedule, variant, name, {**dim_max, m.name: bound // vec})
            if bound % vec == 0:
                at = _scheduled(schedule, _at_length(func, n, bound), f"{name}_exact", dim_max)
                exact += [(bound, at)] if at is not None else []
            if kernel is None or not _vectorized(kernel):
                continue
            if kernels and _same(kernel, kernels[-1][1]):
                continue  # the next larger bucket's kernel serves these lengths as well
            kernels.append((bound, kernel))
        target = scheduled.get_global_var(original)
        while kernels:  # the longest bucket's kernels first dropped: a block a row synchronises (see _lower)
            merged = _merged(scheduled[target], kernels, exact, n, m, vec)
            try:
                _lower(merged, original)
            except Exception as exc:  # noqa: BLE001 - as above
                log.debug("vector variant of %s up to %d dropped: the variants do not lower: %s: %s", original,
                          kernels[0][0], type(exc).__name__, exc)
                exact = [(bound, k) for bound, k in exact if bound < kernels[0][0]]
                kernels = kernels[1:]
                continue
            scheduled.update_func(target, merged)
            break
    return scheduled


def buckets(n_max: int, itemsize: int) -> list[int]:
    """The buckets' bounds, largest first: the dim's largest value, then the lengths of the ladder 2^k, 3 * 2^k
    below it (.., 128, 192, 256, 384, 512, ..) down to rows of FLOOR_BYTES (at most MAX_BUCKETS in all)."""
    bounds = [n_max]
    top = 1 << max(n_max - 1, 0).bit_length()  # the power of two at or above n_max
    ladder = (b for k in range(top.bit_length()) for b in (top >> k, 3 * top >> (k + 2)) if b)
    for bound in ladder:
        if len(bounds) == MAX_BUCKETS or bound * itemsize < FLOOR_BYTES:
            break
        if bound < n_max:
            bounds.append(bound)
    return bounds


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
    """(n, V, itemsize) when `func` is an unscheduled PrimFunc writing (last parameter: destination passing) a
    tensor whose innermost dim is a bare symbolic dim n of the plugin that can reach a whole vector, with V > 1
    elements a vector."""
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
    if type(n).__name__ != "Var" or n.name not in dim_max or vec < 2 or dim_max[n.name] < vec:
        return None
    return n, vec, dtype.itemsize


def _scheduled(schedule, func, name: str, dim_max: dict[str, int]):
    """`func` scheduled alone under `name`, or None where the rules cannot schedule it (the generic kernel stands:
    a variant is only an optimisation)."""
    import tvm

    try:
        return schedule(tvm.IRModule({name: func}), dim_max)[name]
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.debug("no variant %s: %s: %s", name, type(exc).__name__, exc)
        return None


def _at_length(func, n, length: int):
    """`func` with n := length: a static row."""
    import tvm_ffi
    from tvm import tirx

    return tvm_ffi.structural_map(func, (type(n), lambda v: tirx.const(length, n.ty) if v.same_as(n) else v))


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


def _same(a, b) -> bool:
    import tvm_ffi

    return tvm_ffi.structural_equal(a.body, b.body, map_free_vars=True)


def _merged(generic, kernels, exact, n, m, vec: int):
    """One PrimFunc: `if (n % V == 0) { n_divV = n / V; if (n == E_1) {..} .. else if (n <= B_k) {..} .. else
    {kernel of B_1} } else {generic's body}`, `kernels` the (B, variant) longest first, `exact` the (E, kernel
    of n == E). In each branch the variant's tensors are views of the generic's parameters (`DeclBuffer`) typed
    with V * n_divV (or E): its index arithmetic stays in n_divV and simplifies as it did when it was scheduled."""
    from tvm import tirx

    def body(variant):
        views = [tirx.DeclBuffer(v, data=tirx.buffer_data(g)) for v, g in zip(variant.params, generic.params)
                 if not v.same_as(g)]
        return tirx.SeqStmt(views + [variant.body]) if views else variant.body

    chain = body(kernels[0][1])
    for bound, variant in kernels[1:]:
        chain = tirx.IfThenElse(tirx.LE(n, tirx.const(bound, n.ty)), body(variant), chain)
    for length, variant in exact:
        chain = tirx.IfThenElse(tirx.EQ(n, tirx.const(length, n.ty)), body(variant), chain)
    divisible = tirx.EQ(tirx.floormod(n, tirx.const(vec, n.ty)), tirx.const(0, n.ty))
    then = tirx.SeqStmt([tirx.Bind(m, tirx.floordiv(n, tirx.const(vec, n.ty))), chain])
    return generic.with_body(tirx.IfThenElse(divisible, then, generic.body))
