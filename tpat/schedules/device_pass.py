"""tpat's passes over kernel bodies, as TVM module passes (the list, in order: `device_pipeline.py`)."""

from __future__ import annotations


def body_pass(name: str, rewrite):
    """A module pass that replaces each PrimFunc's body with `rewrite(body)` (functions it leaves alone stay)."""
    import tvm
    from tvm import tirx

    @tvm.transform.module_pass(opt_level=0, name=name)
    def transform(mod, _ctx):
        updates = {}
        for gv, func in mod.functions.items():
            if isinstance(func, tirx.PrimFunc):
                body = rewrite(func.body)
                if not body.same_as(func.body):
                    updates[gv] = func.with_body(body)
        for gv, func in updates.items():
            mod[gv] = func
        return mod

    return transform
