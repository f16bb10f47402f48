"""Fuse patterns: op-type chains or small DAGs matched everywhere in a model, each match one fused group.

A pattern is written in the spec as a chain, each node feeding the next::

    [Add, LayerNormalization]          # a residual Add and the LayerNorm it feeds
    [MatMul?, Add, Softmax]            # `?`: the node may be missing; its neighbours then link directly

or as a small DAG, node name -> ``Op`` or ``Op(feeders)`` (the pattern nodes feeding it, in any input slot)::

    {half: Mul, scaled: Div, erf: "Erf(scaled)", one: "Add(erf)", gelu: "Mul(one, half)"}

Only edges inside the pattern are constrained: other inputs of a matched node may come from anywhere. A pattern
with optional nodes is tried as its variants, the largest first, so a match takes as many nodes as it can. Matches
never share a node: patterns are tried in the order given, matches of one variant in graph order. Matching starts
from the nodes of one op type and grows along producer/consumer links only, so it costs the matches' size, not the
model's (planning must stay linear in the targets).

Parsing needs nothing but the standard library: the spec validates patterns with it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

MAX_NODES = 16
MAX_OPTIONAL = 4
_OP = r"[A-Za-z_][A-Za-z0-9_.]*"
_NODE = re.compile(rf"^\s*({_OP})\s*(\?)?\s*(?:\(\s*([^()]*?)\s*\))?\s*$")


class PatternError(ValueError):
    """A pattern the spec cannot mean: the message says what, `hint` what to write instead."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class PatternNode:
    name: str
    op_type: str
    optional: bool
    feeders: tuple[str, ...]  # pattern nodes whose output this node reads


@dataclass(frozen=True)
class Pattern:
    text: str  # as the user wrote it, for messages
    nodes: tuple[PatternNode, ...]  # in topological order

    def variants(self) -> list["Pattern"]:
        """The pattern with each subset of its optional nodes left out (feeders of a missing node feed its
        consumers directly), the largest first; variants of fewer than two nodes fuse nothing and are dropped."""
        optional = [n.name for n in self.nodes if n.optional]
        out = []
        for k in range(len(optional) + 1):
            for missing in itertools.combinations(optional, k):
                v = self._without(set(missing))
                if len(v.nodes) >= 2:
                    out.append(v)
        return out

    def _without(self, missing: set[str]) -> "Pattern":
        feeders: dict[str, tuple[str, ...]] = {}
        for n in self.nodes:
            via: list[str] = []
            for f in n.feeders:
                via += feeders[f] if f in missing else [f]
            feeders[n.name] = tuple(dict.fromkeys(via))
        nodes = tuple(PatternNode(n.name, n.op_type, False, feeders[n.name]) for n in self.nodes
                      if n.name not in missing)
        text = "[" + ", ".join(_node_text(n) for n in nodes) + "]" if missing else self.text
        return Pattern(text, nodes)


def _node_text(n: PatternNode) -> str:
    return f"{n.op_type}({', '.join(n.feeders)})" if n.feeders else n.op_type


def parse_pattern(entry: Sequence[str] | Mapping[str, str]) -> Pattern:
    """A spec entry (a chain list or a DAG mapping) as a Pattern; PatternError says what is wrong."""
    if isinstance(entry, Mapping):
        items = [(str(k), str(v)) for k, v in entry.items()]
        text = "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    else:
        items = [(f"n{i}", str(v)) for i, v in enumerate(entry)]
        text = "[" + ", ".join(v for _, v in items) + "]"
    if not 2 <= len(items) <= MAX_NODES:
        raise PatternError(f"fuse pattern {text} has {len(items)} nodes",
                           hint=f"a pattern has 2 to {MAX_NODES} nodes; select single nodes with `op_types:`")
    nodes: list[PatternNode] = []
    for i, (name, spelled) in enumerate(items):
        m = _NODE.match(spelled)
        if not m:
            raise PatternError(f"fuse pattern {text}: cannot read {spelled!r}",
                               hint="write an op type, `Op?` when optional, `Op(a, b)` in a DAG (feeders by name)")
        op, optional, args = m.group(1), bool(m.group(2)), m.group(3)
        if args is not None and not isinstance(entry, Mapping):
            raise PatternError(f"fuse pattern {text}: {spelled!r} names feeders inside a chain",
                               hint="a chain links each node to the one before; name feeders in a DAG mapping")
        feeders = tuple(a.strip() for a in args.split(",") if a.strip()) if args else ()
        if not isinstance(entry, Mapping) and i:
            feeders = (items[i - 1][0],)
        known = {n.name for n in nodes}
        for f in feeders:
            if f not in known:
                raise PatternError(f"fuse pattern {text}: {name} is fed by {f!r}, which is not a node before it",
                                   hint="list a DAG's nodes so that feeders come first, and spell them as keyed")
        nodes.append(PatternNode(name, op, optional, tuple(dict.fromkeys(feeders))))
    if sum(n.optional for n in nodes) > MAX_OPTIONAL:
        raise PatternError(f"fuse pattern {text} has more than {MAX_OPTIONAL} optional nodes",
                           hint="write the variants you want as patterns of their own")
    pattern = Pattern(text, tuple(nodes))
    if not _connected(pattern.nodes):
        raise PatternError(f"fuse pattern {text} is not connected",
                           hint="every node must feed or be fed by another node of the pattern")
    return pattern


def _connected(nodes: Sequence[PatternNode]) -> bool:
    edges: dict[str, set[str]] = {n.name: set() for n in nodes}
    for n in nodes:
        for f in n.feeders:
            edges[n.name].add(f)
            edges[f].add(n.name)
    seen, todo = set(), [nodes[0].name]
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(edges[x])
    return len(seen) == len(nodes)


@dataclass(frozen=True)
class Match:
    pattern: Pattern  # the variant that matched
    nodes: tuple[int, ...]  # node index per pattern node, in the variant's order

    @property
    def group(self) -> tuple[int, ...]:
        return tuple(sorted(self.nodes))


def find_matches(links, patterns: Sequence[Pattern], taken: set[int] = frozenset()) -> list[Match]:
    """Every match of `patterns` in the model of `links` (a `NodeLinks`), no node in two matches nor in `taken`."""
    used = set(taken)
    found: list[Match] = []
    for pattern in patterns:
        for variant in pattern.variants():
            order = _search_order(variant)
            first = variant.nodes[order[0]]
            for start in links.by_op.get(first.op_type, ()):
                if start in used:
                    continue
                nodes = _grow(links, variant, order, {order[0]: start}, used)
                if nodes is not None:
                    m = Match(variant, tuple(nodes[k] for k in range(len(variant.nodes))))
                    used.update(m.nodes)
                    found.append(m)
    return found


def _search_order(p: Pattern) -> list[int]:
    """Pattern node positions so that each one after the first is linked to one before it (the pattern is
    connected): candidates then come from producer/consumer links, never from a scan of the model. Starts at the
    last node (usually the rarest op of a fusion: Softmax, LayerNormalization)."""
    pos = {n.name: k for k, n in enumerate(p.nodes)}
    adj: dict[int, set[int]] = {k: set() for k in range(len(p.nodes))}
    for k, n in enumerate(p.nodes):
        for f in n.feeders:
            adj[k].add(pos[f])
            adj[pos[f]].add(k)
    order, seen = [len(p.nodes) - 1], {len(p.nodes) - 1}
    while len(order) < len(p.nodes):
        k = next(k for k in range(len(p.nodes) - 1, -1, -1) if k not in seen and adj[k] & seen)
        order.append(k)
        seen.add(k)
    return order


def _grow(links, p: Pattern, order: list[int], assigned: dict[int, int], used: set[int]) -> dict[int, int] | None:
    """Depth-first: extend `assigned` (pattern position -> node) along `order`; the first full match or None."""
    if len(assigned) == len(order):
        return assigned
    k = order[len(assigned)]
    node = p.nodes[k]
    pos = {n.name: j for j, n in enumerate(p.nodes)}
    feeders = [pos[f] for f in node.feeders]
    fed = [j for j, n in enumerate(p.nodes) if node.name in n.feeders]
    if any(j in assigned for j in feeders):
        anchor = next(j for j in feeders if j in assigned)
        candidates = sorted(links.consumers.get(assigned[anchor], ()))
    else:
        anchor = next(j for j in fed if j in assigned)
        candidates = links.producers_of(assigned[anchor])
    taken = set(assigned.values())
    for c in candidates:
        if c in used or c in taken or links.nodes[c].op_type != node.op_type:
            continue
        if not all(links.feeds(assigned[j], c) for j in feeders if j in assigned):
            continue
        if not all(links.feeds(c, assigned[j]) for j in fed if j in assigned):
            continue
        done = _grow(links, p, order, {**assigned, k: c}, used)
        if done is not None:
            return done
    return None
