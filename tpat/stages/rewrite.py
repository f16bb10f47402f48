"""Rewrite: a copy of the model where each target node is one plugin node TensorRT's ONNX parser imports.

The parser has no importer for an unknown op type, so it falls back to the plugin registry and looks up
(op_type, `plugin_version`, `plugin_namespace`). Plugin nodes live in the custom domain `trt.plugins` so
`onnx.checker` accepts them; the parser does not dispatch on domains. Inputs the plugin has baked in (small
constants) are dropped from the node, and initializers nothing else uses are removed. Everything else is untouched,
dtypes included: TensorRT 10+ has int64 and bool tensors, so nothing is narrowed (TPAT inserted Casts to int32).
Tensors in external data files stay there (the proto only names them); `model_io.compose_model` writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import onnx

from ..errors import ModelError

PLUGIN_DOMAIN = "trt.plugins"


@dataclass(frozen=True)
class Replacement:
    node_index: int
    node_name: str
    plugin_name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    dropped_inputs: tuple[str, ...] = ()
    plugin_version: str = "1"
    plugin_namespace: str = ""
    input_casts: tuple[tuple[int, int], ...] = ()  # (plugin input index, dtype the plugin takes)
    output_casts: tuple[tuple[int, int], ...] = ()  # (output index, dtype the model declares)
    fused: tuple[int, ...] = ()  # the other nodes of a fused group, removed (the plugin takes the last one's place)


def rewrite(model: onnx.ModelProto, replacements: Sequence[Replacement]) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)  # never touch the caller's (the input) model
    nodes = list(out.graph.node)
    dropped: set[str] = set()
    for r in replacements:
        old = nodes[r.node_index]
        produced = {t for i in (r.node_index, *r.fused) for t in nodes[i].output}
        if old.name != r.node_name or not set(r.outputs) <= produced:
            raise ModelError(f"rewrite: node {r.node_index} is {old.name!r}, expected {r.node_name!r}",
                             hint="the model changed between extraction and rewrite; run again")
        nodes[r.node_index] = _plugin_nodes(old, r)
        for i in r.fused:
            nodes[i] = []
        dropped.update(r.dropped_inputs)
    del out.graph.node[:]
    for n in nodes:
        out.graph.node.extend(n if isinstance(n, list) else [n])
    _drop_dangling_value_info(out.graph)
    _remove_orphans(out.graph, dropped)
    if not any(o.domain == PLUGIN_DOMAIN for o in out.opset_import) and replacements:
        out.opset_import.append(onnx.helper.make_opsetid(PLUGIN_DOMAIN, 1))
    return out  # checked by `model_io.compose_model`, by path when its weights are in external data


def _plugin_nodes(old: onnx.NodeProto, r: Replacement) -> list[onnx.NodeProto]:
    """The plugin node, with Casts in and out when the dtype policy runs it in another precision."""
    stem = f"{old.name or old.op_type}__tpat"
    inputs, outputs = list(r.inputs), list(r.outputs)
    before, after = [], []
    for i, to in r.input_casts:
        cast_out = f"{stem}_in{i}"
        before.append(onnx.helper.make_node("Cast", [inputs[i]], [cast_out], name=f"{stem}_cast_in{i}", to=to))
        inputs[i] = cast_out
    for j, to in r.output_casts:
        plugin_out = f"{stem}_out{j}"
        after.append(onnx.helper.make_node("Cast", [plugin_out], [outputs[j]], name=f"{stem}_cast_out{j}", to=to))
        outputs[j] = plugin_out
    node = onnx.helper.make_node(r.plugin_name, inputs, outputs, name=old.name, domain=PLUGIN_DOMAIN,
                                 plugin_version=r.plugin_version, plugin_namespace=r.plugin_namespace)
    node.doc_string = f"tpat plugin for {old.op_type} node {old.name!r}"
    return [*before, node, *after]


def _drop_dangling_value_info(graph: onnx.GraphProto) -> None:
    """value_info of tensors a fused group kept internal no longer describes anything: drop it."""
    live = {t for n in graph.node for t in (*n.input, *n.output)} | {i.name for i in graph.input}
    keep = [v for v in graph.value_info if v.name in live]
    if len(keep) != len(graph.value_info):
        del graph.value_info[:]
        graph.value_info.extend(keep)


def _remove_orphans(graph: onnx.GraphProto, candidates: set[str]) -> None:
    """Drop initializers and Constant nodes that only fed replaced nodes' baked-in inputs."""
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    used |= {name for n in graph.node for a in n.attribute if a.type == onnx.AttributeProto.GRAPH
             for name in _subgraph_inputs(a.g)}
    orphans = candidates - used
    if not orphans:
        return
    keep = [i for i in graph.initializer if i.name not in orphans]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    keep_inputs = [i for i in graph.input if i.name not in orphans]  # IR < 4 lists initializers as inputs too
    del graph.input[:]
    graph.input.extend(keep_inputs)
    keep_nodes = [n for n in graph.node if not (n.op_type == "Constant" and set(n.output) <= orphans)]
    del graph.node[:]
    graph.node.extend(keep_nodes)


def _subgraph_inputs(g: onnx.GraphProto) -> set[str]:
    return {name for n in g.node for name in n.input}
