"""Who feeds whom among a model's nodes, built once per model: the producer of each tensor, the consumers of each
node, the nodes of each op type. Fuse groups and fuse patterns both walk it, so checking many groups stays linear
in their size, not in the model's.

Nodes are indices into `graph.node`, which is in topological order (onnx.checker requires it).
"""

from __future__ import annotations

from typing import Iterable, Sequence


def node_inputs(node) -> list[str]:
    """The tensors a node reads: its inputs and the outer-scope tensors its subgraphs (If, Loop, Scan) read."""
    names = [t for t in node.input if t]
    for a in node.attribute:
        for g in ([a.g] if a.type == a.GRAPH else list(a.graphs) if a.type == a.GRAPHS else []):
            names += sorted(_outer_names(g))
    return names


def _outer_names(g) -> set[str]:
    local = {i.name for i in g.input} | {t.name for t in g.initializer}
    local |= {o for n in g.node for o in n.output}
    used = set()
    for n in g.node:
        used.update(t for t in node_inputs(n) if t)
    return used - local


class NodeLinks:
    def __init__(self, nodes: Sequence):
        self.nodes = list(nodes)
        self.producer: dict[str, int] = {t: i for i, n in enumerate(self.nodes) for t in n.output if t}
        self.consumers: dict[int, set[int]] = {}
        self.readers: dict[str, list[int]] = {}  # tensor -> nodes reading it, in graph order
        self.by_op: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            self.by_op.setdefault(n.op_type, []).append(i)
            for t in node_inputs(n):
                self.readers.setdefault(t, []).append(i)
                if t in self.producer:
                    self.consumers.setdefault(self.producer[t], set()).add(i)

    def feeds(self, a: int, b: int) -> bool:
        """Whether node `a` produces a tensor node `b` reads."""
        return b in self.consumers.get(a, ())

    def producers_of(self, i: int) -> list[int]:
        return sorted({self.producer[t] for t in self.nodes[i].input if t in self.producer})

    def path_back_into(self, group: Iterable[int]) -> int | None:
        """A node outside `group` on a path that leaves the group and comes back (fusing would make the plugin
        depend on itself), or None when the group is convex. Only nodes between the group's first and last
        (graph order is topological) can be on such a path, so the walk stays inside that window."""
        inside = set(group)
        last = max(inside)
        came_from: dict[int, int] = {}  # outside node -> the outside node (or -1) it was reached from
        stack = [(c, -1) for g in sorted(inside) for c in sorted(self.consumers.get(g, ())) if c not in inside]
        while stack:
            i, parent = stack.pop()
            if i in came_from or i > last:
                continue
            came_from[i] = parent
            for c in self.consumers.get(i, ()):
                if c in inside:
                    first = i
                    while came_from[first] != -1:  # the first outside node of that path
                        first = came_from[first]
                    return first
                stack.append((c, i))
        return None
