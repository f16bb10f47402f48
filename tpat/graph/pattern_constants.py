"""Constants that differ between the matches of one fuse pattern stay plugin inputs, so the matches share a plugin.

A plugin bakes its small constants in (`extract.EMBED_LIMIT_BYTES`). Twelve encoder layers matched by
[Add, LayerNormalization] have twelve different gamma/beta pairs: baked in, they would make twelve plugins that
differ only in those bytes. Constants equal in every match (a GELU's 1/sqrt(2), an epsilon tensor) are still baked
in; those that differ are passed in (TensorRT feeds them from its own constant layers), and the twelve subgraphs
come out byte-identical: one plugin, built once.
"""

from __future__ import annotations

from typing import Sequence

from .model_index import ModelIndex


def varying_constants(index: ModelIndex, targets: Sequence, limit: int) -> dict[int, frozenset[str]]:
    """node_index of each pattern target -> the small constants it must take as inputs: those whose input slot
    (k-th node of the group, j-th input) holds different values in the matches of the same pattern variant."""
    families: dict[str, list] = {}
    for t in targets:
        if t.pattern:
            families.setdefault(t.pattern, []).append(t)
    out: dict[int, frozenset[str]] = {}
    for members in families.values():
        if len(members) < 2:
            continue
        slots = [_small_constant_slots(index, t, limit) for t in members]
        varying = {key for key in set().union(*slots)
                   if len({s.get(key, (None, None))[1] for s in slots}) > 1}
        for t, s in zip(members, slots):
            names = frozenset(s[key][0] for key in varying if key in s)
            if names:
                out[t.node_index] = names
    return out


def _small_constant_slots(index: ModelIndex, target, limit: int) -> dict[tuple[int, int], tuple[str, tuple]]:
    """(k, j) -> (tensor name, (dtype, dims, bytes)) for each small constant input of the target's nodes."""
    slots = {}
    for k, i in enumerate(target.indices):
        for j, name in enumerate(index.model.graph.node[i].input):
            info = index.constant(name) if name else None
            if info is None or info.nbytes > limit:
                continue
            slots[(k, j)] = (name, (info.elem, tuple(info.dims), index.constant_array(name).tobytes()))
    return slots
