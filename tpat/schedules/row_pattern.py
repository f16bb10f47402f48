"""Let a row reduction (Softmax, LayerNorm) fuse the elementwise op in front of it (BERT's attention-mask Add).

TVM's op-pattern analysis marks a function that reduces rows and then writes every element from the row's results
(Softmax: max, sum of exponentials, normalise) "out-elementwise fusable", the pattern of a convolution: FuseOps
then fuses elementwise ops *after* it but never the ones *before* it. For a fused [Add(scores, mask), Softmax]
plugin the Add ran as a kernel of its own, writing the whole score tensor to a workspace that the Softmax read
back: BERT attention at batch 32, sequence 384 (fp16) moved 2x the bytes it needed to.

Where such a function's input comes from an elementwise or broadcast op and nothing elementwise consumes its
output, it is re-marked a reduction (kCommReduce): FuseOps fuses the producer into it, and the row rule
(`row_reduction.py`) inlines the Add into each pass over the row. Functions with an elementwise consumer keep
their pattern (that fusion is the one TVM already makes).
"""

from __future__ import annotations

ELEMWISE, BROADCAST, COMM_REDUCE, OUT_EWISE_FUSABLE = 0, 1, 3, 4


def mark_row_reductions_fusible():
    """A relax module pass, to run after AnnotateTIROpPattern and before FuseOps."""
    import tvm
    from tvm import relax, tirx

    @tvm.transform.module_pass(opt_level=0, name="tpat.MarkRowReductionsFusible")
    def transform(mod, _ctx):
        patterns = {gv: _pattern(f) for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)}
        producers, consumers = {}, {}  # var -> callee of the call_tir binding it; callee gv -> callee of users
        calls = []
        for gv, func in mod.functions.items():
            if not isinstance(func, relax.Function):
                continue
            for block in func.body.blocks:
                for binding in block.bindings:
                    callee, args = _call_tir(binding.value)
                    if callee is None:
                        continue
                    producers[binding.var] = callee
                    calls.append((callee, args))
        for callee, args in calls:
            for arg in args:
                if arg in producers:
                    consumers.setdefault(producers[arg], []).append(callee)
        marked = set()
        for callee, args in calls:
            if patterns.get(callee) != OUT_EWISE_FUSABLE or not _reduces_rows(mod[callee]):
                continue
            fed = any(patterns.get(producers.get(arg)) in (ELEMWISE, BROADCAST) for arg in args)
            feeds = any(patterns.get(c) in (ELEMWISE, BROADCAST) for c in consumers.get(callee, []))
            if fed and not feeds:
                marked.add(callee)
        for gv in marked:
            mod[gv] = mod[gv].with_attr("op_pattern", COMM_REDUCE)
        return mod

    return transform


def _pattern(func) -> int | None:
    pattern = func.attrs.get("op_pattern") if func.attrs is not None else None
    return None if pattern is None else int(pattern)


def _call_tir(value):
    """(callee global var, tensor args) of a `call_tir`, else (None, ())."""
    from tvm import relax

    if not isinstance(value, relax.Call) or getattr(value.op, "name", None) != "relax.call_tir":
        return None, ()
    args = value.args[1]
    return value.args[0], list(args.fields) if isinstance(args, relax.Tuple) else [args]


def _reduces_rows(func) -> bool:
    """Reductions over the trailing axes, then one spatial block over the whole iteration space: the form the row
    rule schedules (a function it would not take keeps TVM's pattern)."""
    from tvm import s_tir

    try:
        sch = s_tir.Schedule(func)
        blocks = [sch.get(b) for b in sch.get_child_blocks(sch.get_sblock("root"))]
    except Exception:  # no root block (hand-written IR): leave it
        return False
    if len(blocks) < 2:
        return False
    *reductions, last = blocks
    kinds = [[int(iv.iter_type) for iv in b.iter_vars] for b in reductions]  # 0: spatial, 2: reduction
    return (all(any(k == 2 for k in ks) and ks == sorted(ks) for ks in kinds)
            and all(int(iv.iter_type) == 0 for iv in last.iter_vars))
