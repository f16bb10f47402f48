"""A rewritten model cut into what onnxruntime runs and what the plugins run, in as few onnxruntime sessions as
the graph allows.

Each onnxruntime node gets a *depth*: the largest number of plugin nodes on a path from the graph inputs to it.
Nodes of one depth form one segment (one session), whether or not they are connected: a segment of depth d needs
only tensors of segments before it, of plugins of depth < d, and its own. Plugins of depth d run after segment d.
The number of segments is the longest chain of plugins plus one, which no other cut can beat (each plugin on
that chain needs a session before it and one after). Plain ONNX, no onnxruntime: `tpat.run` runs the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import onnx

from .links import node_inputs

PLUGIN_DOMAIN = "trt.plugins"  # as `stages.rewrite` writes plugin nodes


def is_plugin_node(node: onnx.NodeProto) -> bool:
    return node.domain == PLUGIN_DOMAIN


@dataclass
class Segment:
    """Nodes onnxruntime runs in one session; `inputs` come from earlier steps or the graph's inputs, `outputs`
    are what later steps or the graph's outputs need."""

    depth: int
    nodes: list[int] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class PluginStep:
    node_index: int
    plugin: str  # the node's op type: the plugin's name
    node_name: str
    inputs: list[str]
    outputs: list[str]


@dataclass
class Partition:
    steps: list  # Segment | PluginStep, in the order they run

    @property
    def segments(self) -> list[Segment]:
        return [s for s in self.steps if isinstance(s, Segment)]

    @property
    def plugins(self) -> list[PluginStep]:
        return [s for s in self.steps if isinstance(s, PluginStep)]


def partition(graph: onnx.GraphProto, is_plugin: Callable[[onnx.NodeProto], bool] = is_plugin_node) -> Partition:
    nodes = list(graph.node)
    tensor_depth: dict[str, int] = {}  # depth at which a tensor exists
    depth: list[int] = []
    for node in nodes:
        d = max((tensor_depth.get(t, 0) for t in node_inputs(node)), default=0)
        depth.append(d)
        for t in node.output:
            if t:
                tensor_depth[t] = d + 1 if is_plugin(node) else d
    segments: dict[int, Segment] = {}
    plugins: dict[int, list[PluginStep]] = {}
    for i, node in enumerate(nodes):
        if is_plugin(node):
            plugins.setdefault(depth[i], []).append(
                PluginStep(i, node.op_type, node.name, list(node.input), list(node.output)))
        else:
            segments.setdefault(depth[i], Segment(depth[i])).nodes.append(i)
    _wire(nodes, segments, graph, is_plugin)
    steps: list = []
    for d in range(max([*segments, *plugins], default=-1) + 1):
        if d in segments:
            steps.append(segments[d])
        steps.extend(plugins.get(d, ()))
    return Partition(steps)


def _wire(nodes: list, segments: dict[int, Segment], graph: onnx.GraphProto, is_plugin) -> None:
    """Each segment's inputs (read, not made inside, not a constant of the model) and outputs (needed outside)."""
    constants = {t.name for t in graph.initializer}
    owner = {t: s.depth for s in segments.values() for i in s.nodes for t in nodes[i].output if t}
    needed: dict[str, set[int | str]] = {}  # tensor -> segment depths / "out" (plugins and graph outputs) reading it
    for s in segments.values():
        for i in s.nodes:
            for t in node_inputs(nodes[i]):
                needed.setdefault(t, set()).add(s.depth)
    for i, node in enumerate(nodes):
        if is_plugin(node):
            for t in node.input:
                needed.setdefault(t, set()).add("out")
    for o in graph.output:
        needed.setdefault(o.name, set()).add("out")
    for s in segments.values():
        made = {t for i in s.nodes for t in nodes[i].output if t}
        reads = dict.fromkeys(t for i in s.nodes for t in node_inputs(nodes[i]))
        s.inputs = [t for t in reads if t not in made and t not in constants]
        s.outputs = [t for i in s.nodes for t in nodes[i].output
                     if t and owner.get(t) == s.depth and needed.get(t, set()) - {s.depth}]
