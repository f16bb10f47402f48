"""Small facts about TIR blocks that tpat's rules rely on."""

from __future__ import annotations


def writes_at_iteration_point(block) -> bool:
    """The block is spatial, writes one buffer, and writes it at exactly its block vars, in order."""
    from tvm import tirx

    if any(int(iv.iter_type) != 0 for iv in block.iter_vars) or len(block.writes) != 1:  # 0: data parallel
        return False
    region = block.writes[0].region
    block_vars = [iv.var for iv in block.iter_vars]
    if len(region) != len(block_vars):
        return False
    return all(isinstance(rng.min, tirx.Var) and rng.min.same_as(var) for rng, var in zip(region, block_vars))
