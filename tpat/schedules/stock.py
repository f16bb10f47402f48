"""TVM's own legalization of an op: what each tpat legalization falls back to where its form does not apply."""

from __future__ import annotations


def stock_legalization(bb, call):
    """TVM's own legalization of `call`, as registered for its op."""
    return call.op.get_attr("FLegalize")(bb, call)
