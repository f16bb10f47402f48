"""Selection: which nodes of a model become plugins, and under which plugin names.

Nodes are picked by name, by op type, or through a plugin-name map. The seed (TPAT) documents the map both ways
round -- `{plugin_name: node_name}` in the Python API and `{node_name: plugin_name}` in the CLI -- so we accept
both and tell them apart by which side names nodes of the graph; a map where that is unclear is refused.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import onnx

from ..errors import SelectionError
from ..names import default_plugin_name, identifier
from .links import NodeLinks
from .patterns import Pattern, find_matches


@dataclass(frozen=True)
class Target:
    """One plugin to make: a node, or a fused group of nodes named after its last node (`group` in graph order)."""

    node_index: int  # position in graph.node: nodes may be nameless, names may repeat; a group's last node
    node_name: str
    op_type: str  # a group's op types joined by '+', e.g. "Add+Softmax"
    plugin_name: str
    group: tuple[int, ...] = ()  # every node of a fused group; empty for a single node
    explicit: bool = False  # the plugin name comes from the user's plugin map (never changed, only refused)
    pattern: str = ""  # the fuse pattern (variant) that matched the group: its matches extract alike

    @property
    def indices(self) -> tuple[int, ...]:
        return self.group or (self.node_index,)


def orient_plugin_map(mapping: Mapping[str, str], node_names: Iterable[str]) -> dict[str, str]:
    """Return the map as {node_name: plugin_name}, whichever way round it was given."""
    names = set(node_names)
    keys_are_nodes = all(k in names for k in mapping)
    values_are_nodes = all(v in names for v in mapping.values())
    if keys_are_nodes and not values_are_nodes:
        return dict(mapping)
    if values_are_nodes and not keys_are_nodes:
        return {v: k for k, v in mapping.items()}
    if keys_are_nodes and values_are_nodes:
        raise SelectionError(
            "plugin_name_dict is ambiguous: both its keys and its values name nodes of the graph",
            hint="use plugin names that are not node names, e.g. {'my_node': 'tpat_my_node'}",
        )
    unknown = sorted(k for k in mapping if k not in names) or sorted(mapping.values())
    raise SelectionError(
        f"plugin_name_dict names no node of the graph on either side (e.g. {unknown[0]!r})",
        hint=_suggest(unknown[0], names) or "give {node_name: plugin_name} with node names from the model",
    )


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=3)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else None


def select_targets(
    graph: onnx.GraphProto,
    node_names: Sequence[str] | None = None,
    node_types: Sequence[str] | None = None,
    plugin_name_dict: Mapping[str, str] | None = None,
    fuse: Sequence[Sequence[str]] = (),
    fuse_patterns: Sequence[Pattern] = (),
) -> list[Target]:
    """Targets in graph order. `fuse` lists groups of node names that become one plugin each (e.g. a mask Add and
    the Softmax it feeds); `fuse_patterns` are op-type patterns matched everywhere (`tpat.graph.patterns`), each
    match a group, after the named groups; a node in a group is not also converted alone."""
    nodes = list(graph.node)
    by_name: dict[str, int] = {}
    for i, n in enumerate(nodes):
        if n.name:
            by_name.setdefault(n.name, i)
    plugin_for = orient_plugin_map(plugin_name_dict, by_name) if plugin_name_dict else {}
    chosen: dict[int, None] = {}  # ordered set: planning thousands of targets must stay linear

    def take(i: int):
        chosen.setdefault(i, None)

    for name in node_names or ():
        if name not in by_name:
            raise SelectionError(f"no node named {name!r} in the model",
                                 hint=_suggest(name, by_name) or "list node names with `tpat inspect model.onnx`")
        take(by_name[name])
    for op_type in node_types or ():
        hits = [i for i, n in enumerate(nodes) if n.op_type == op_type]
        if not hits:
            present = sorted({n.op_type for n in nodes})
            raise SelectionError(f"no node of op type {op_type!r} in the model",
                                 hint=_suggest(op_type, present) or f"op types present: {', '.join(present)}")
        for i in hits:
            take(i)
    for name in plugin_for:
        take(by_name[name])
    links = NodeLinks(nodes) if fuse or fuse_patterns else None
    groups = [(_group(links, names, by_name), "") for names in fuse]
    grouped = {i for g, _ in groups for i in g}
    groups += [(m.group, m.pattern.text) for m in _pattern_groups(links, fuse_patterns, grouped)]
    grouped = {i for g, _ in groups for i in g}
    if not chosen and not groups:
        if fuse_patterns:
            raise SelectionError(f"no fuse pattern matched: {', '.join(p.text for p in fuse_patterns)}",
                                 hint="check the op types and their order with `tpat inspect model.onnx`")
        raise SelectionError("no node selected", hint="give node names (-n), op types (-t) or a plugin map (-p)")
    targets = [_target(nodes[i], i, plugin_for) for i in sorted(chosen) if i not in grouped]
    targets += [_group_target(nodes, g, plugin_for, pattern) for g, pattern in groups]
    targets.sort(key=lambda t: t.node_index)
    return _distinct_names(targets)


def _pattern_groups(links: NodeLinks | None, patterns: Sequence[Pattern], taken: set[int]):
    """Matches of the fuse patterns outside the named groups; a match that would depend on itself is refused."""
    if not patterns:
        return []
    matches = find_matches(links, patterns, taken)
    for m in matches:
        back = links.path_back_into(m.group)
        if back is not None:
            names = [_node_label(links.nodes[i], i) for i in m.group]
            raise SelectionError(
                f"fuse pattern {m.pattern.text} matches nodes {names}, which would depend on themselves: a path "
                f"leaves them through node {_node_label(links.nodes[back], back)} and comes back",
                hint="add that node's op type to the pattern, or use a shorter pattern")
    return matches


def _node_label(node, index: int) -> str:
    return f"{node.name!r} ({node.op_type})" if node.name else f"#{index} ({node.op_type})"


def _group(links: NodeLinks, names: Sequence[str], by_name: Mapping[str, int]) -> tuple[int, ...]:
    """Indices of a fusable group: known nodes, at least two, connected, and convex (no path leaves the group
    and comes back, which would make the fused node depend on itself)."""
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SelectionError(f"fuse group {list(names)} names no node {missing[0]!r}",
                             hint=_suggest(missing[0], by_name) or "list node names with `tpat inspect model.onnx`")
    group = tuple(sorted({by_name[n] for n in names}))
    if len(group) < 2:
        raise SelectionError(f"fuse group {list(names)} has fewer than two nodes",
                             hint="select a single node with `nodes:` instead")
    nodes, producer, consumers = links.nodes, links.producer, links.consumers
    inside = set(group)
    edges = {g: (consumers.get(g, set()) & inside) | {producer[t] for t in nodes[g].input
                                                      if producer.get(t) in inside} for g in group}
    linked, todo = set(), [group[0]]
    while todo:  # undirected reachability inside the group
        g = todo.pop()
        if g not in linked:
            linked.add(g)
            todo.extend(edges[g])
    if linked != inside:
        raise SelectionError(f"fuse group {list(names)} is not connected",
                             hint="fuse nodes that feed each other, e.g. a mask Add and its Softmax")
    back = links.path_back_into(group)
    if back is not None:
        raise SelectionError(f"fuse group {list(names)} would depend on itself: a path leaves it through node "
                             f"{_node_label(nodes[back], back)} and comes back",
                             hint="add the nodes on that path to the group, or fuse fewer nodes")
    return group


def _group_target(nodes: list, group: tuple[int, ...], plugin_for: Mapping[str, str], pattern: str = "") -> Target:
    last = nodes[group[-1]]
    op_type = "+".join(nodes[i].op_type for i in group)
    wanted = next((plugin_for[nodes[i].name] for i in reversed(group) if nodes[i].name in plugin_for), None)
    plugin = _explicit_name(wanted, last.name) if wanted else default_plugin_name(last.name, last.op_type, group[-1])
    return Target(group[-1], last.name, op_type, plugin, group, explicit=wanted is not None, pattern=pattern)


def _explicit_name(wanted: str, node: str) -> str:
    from ..names import RESERVED_SUFFIX

    name = identifier(wanted)
    if RESERVED_SUFFIX.search(name):
        raise SelectionError(f"plugin name {name!r} for node {node!r} ends like tpat's own file names "
                             "(<plugin>_kernels.cu, lib<plugin>_kernels.so)",
                             hint="choose a name that does not end in _kernels or _kernels_v<N>")
    return name


def _target(node: onnx.NodeProto, index: int, plugin_for: Mapping[str, str]) -> Target:
    wanted = plugin_for.get(node.name)
    plugin = _explicit_name(wanted, node.name) if wanted else default_plugin_name(node.name, node.op_type, index)
    if plugin == node.op_type:
        raise SelectionError(
            f"plugin name {plugin!r} for node {node.name!r} equals its op type",
            hint="TensorRT's ONNX parser would use its own layer for that op type; choose another plugin name",
        )
    return Target(index, node.name, node.op_type, plugin, explicit=wanted is not None)


def _distinct_names(targets: list[Target]) -> list[Target]:
    """Plugin names distinct whatever the node names: nodes `a/b`, `a_b` and `a.b` all sanitise to `tpat_a_b`.
    The node whose name needed no sanitising (else the first in graph order) keeps it; the others get a short hash
    of their own node name. Names the user chose are never changed: two equal ones are refused."""
    from dataclasses import replace

    from ..names import with_hash

    by_name: dict[str, list[Target]] = {}
    for t in targets:
        by_name.setdefault(t.plugin_name, []).append(t)
    taken = set(by_name)
    renamed: dict[int, str] = {}
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        chosen = [t for t in same if t.explicit]
        if len(chosen) > 1:
            raise SelectionError(
                f"nodes {chosen[0].node_name!r} and {chosen[1].node_name!r} would both become plugin {name!r}",
                hint="plugin names must be unique (after sanitising to a C identifier); set them in the plugin map",
            )
        keeper = chosen[0] if chosen else next((t for t in same if t.plugin_name == f"tpat_{t.node_name}"), same[0])
        for t in same:
            if t is not keeper:
                new = with_hash(name, f"{t.node_name}#{t.node_index}")
                while new in taken:
                    new = with_hash(new, t.node_name)
                taken.add(new)
                renamed[t.node_index] = new
    return [replace(t, plugin_name=renamed[t.node_index]) if t.node_index in renamed else t for t in targets]
