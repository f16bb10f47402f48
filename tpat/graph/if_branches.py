"""An If whose branches are plain tensor programs becomes both branches and a Where, for TVM's import only.

TVM's frontend imports If as a relax If: control flow on the host, which a plugin (kernels launched on a stream)
cannot run. When both branches compute tensors of one static shape and dtype without side effects (no random op,
no nested control flow), computing both and selecting with the condition gives the same outputs: each branch's
nodes are copied into the graph under names of their own, and each output of the If is Where(cond, then, else).
The subgraph the plugin is validated against keeps the real If.
"""

from __future__ import annotations

import onnx
from onnx import helper

# ops whose result is not a function of their inputs, or that hold graphs: such branches stay as they are
NOT_INLINED = ("If", "Loop", "Scan", "SequenceMap", "RandomNormal", "RandomNormalLike", "RandomUniform",
               "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout")


def _outputs_match(then: onnx.GraphProto, other: onnx.GraphProto) -> bool:
    if len(then.output) != len(other.output):
        return False
    for a, b in zip(then.output, other.output):
        ta, tb = a.type.tensor_type, b.type.tensor_type
        if a.type.WhichOneof("value") != "tensor_type" or b.type.WhichOneof("value") != "tensor_type":
            return False
        dims_a, dims_b = [d.dim_value if d.HasField("dim_value") else None for d in ta.shape.dim], \
            [d.dim_value if d.HasField("dim_value") else None for d in tb.shape.dim]
        if ta.elem_type != tb.elem_type or dims_a != dims_b or None in dims_a or not ta.HasField("shape"):
            return False
    return True


def _inlinable(node: onnx.NodeProto) -> tuple[onnx.GraphProto, onnx.GraphProto] | None:
    branches = {a.name: a.g for a in node.attribute if a.name in ("then_branch", "else_branch")}
    if node.op_type != "If" or node.domain not in ("", "ai.onnx") or len(branches) != 2:
        return None
    then, other = branches["then_branch"], branches["else_branch"]
    if any(n.op_type in NOT_INLINED or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                                           for a in n.attribute) for n in (*then.node, *other.node)):
        return None
    return (then, other) if _outputs_match(then, other) else None


def _copy_branch(graph: onnx.GraphProto, prefix: str, into: onnx.GraphProto) -> list[str]:
    """The branch's nodes and initializers appended to `into`, the names it defines prefixed; its output names."""
    defined = {init.name for init in graph.initializer} | {o for n in graph.node for o in n.output if o}
    rename = {name: f"{prefix}{name}" for name in defined}
    for init in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = rename[init.name]
        into.initializer.append(copy)
    for n in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.name = f"{prefix}{n.name}"
        copy.input[:] = [rename.get(i, i) for i in n.input]
        copy.output[:] = [rename.get(o, o) for o in n.output]
        into.node.append(copy)
    return [rename.get(o.name, o.name) for o in graph.output]


def inline_if_branches(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with every inlinable If of its main graph replaced (a copy; the same model when there is none)."""
    if not any(_inlinable(n) for n in model.graph.node):
        return model
    m = onnx.ModelProto()
    m.CopyFrom(model)
    nodes = list(m.graph.node)
    del m.graph.node[:]
    for k, node in enumerate(nodes):
        branches = _inlinable(node)
        if branches is None:
            m.graph.node.append(node)
            continue
        prefix = f"tpat_if{k}/"
        then_out = _copy_branch(branches[0], prefix + "then/", m.graph)
        else_out = _copy_branch(branches[1], prefix + "else/", m.graph)
        for i, (a, b, out) in enumerate(zip(then_out, else_out, node.output)):
            m.graph.node.append(helper.make_node("Where", [node.input[0], a, b], [out], name=f"{prefix}where{i}"))
    return m
