"""Shape-like inputs a model computes, folded into constants when they depend on nothing that varies.

Exporters compute a Reshape's shape, a Slice's ends or an Expand's shape from Shape nodes (PyTorch's `view(b, -1)`
becomes Shape -> Gather -> Concat -> Reshape). With static shapes those values are constants, and TVM needs them
as constants: a plugin input feeding a shape is a data-dependent shape it cannot lower. So a target's input that
is computed only from constants and from the shapes of statically shaped tensors, through shape arithmetic, is
evaluated here (onnx's reference evaluator, a few small nodes) and baked into the plugin like an initializer.
Anything else, or anything that fails to evaluate, stays a plugin input as before.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .static_values import shape_value

# ops of shape arithmetic: cheap, deterministic, and what exporters build shapes from
FOLDABLE = frozenset({
    "Shape", "Size", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Cast", "Add", "Sub", "Mul", "Div",
    "Reshape", "Identity", "Range", "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin", "Equal", "Where", "Max",
    "Min", "Neg", "Abs", "Floor", "Ceil", "Expand", "ConstantOfShape", "Mod", "Not", "And", "Or", "Less",
    "Greater", "Flatten", "Transpose", "Tile", "Constant",
})
MAX_NODES = 64
MAX_BYTES = 64 * 1024


def fold(index, name: str) -> np.ndarray | None:
    """The value of tensor `name` of `index` (a `ModelIndex`) when it can be folded, else None."""
    producers = _producers(index)
    nodes: list[int] = []
    sources: set[str] = set()
    static: dict[str, tuple[int, ...]] = {}  # tensors whose shape (not values) a Shape/Size node reads
    stack, seen = [name], set()
    while stack:
        tensor = stack.pop()
        if tensor in seen or tensor == "":
            continue
        seen.add(tensor)
        if index.constant(tensor) is not None:
            sources.add(tensor)
            continue
        i = producers.get(tensor)
        if i is None:
            return None  # a graph input: varies
        node = index.model.graph.node[i]
        if node.op_type not in FOLDABLE or node.domain not in ("", "ai.onnx") or len(nodes) >= MAX_NODES:
            return None
        nodes.append(i)
        if node.op_type in ("Shape", "Size"):
            known = index.shapes.get(node.input[0])
            if known is None or not all(isinstance(d, int) for d in known[1]):
                return None  # a dynamic dim: the shape varies
            static[node.input[0]] = tuple(known[1])
            continue
        stack.extend(node.input)
    if not nodes:
        return None
    try:
        return _evaluate(index, sorted(nodes), sources, static, name)
    except Exception:  # noqa: BLE001 - folding is an optimisation: the tensor stays a plugin input
        return None


def _producers(index) -> dict[str, int]:
    cached = getattr(index, "_producers", None)
    if cached is None:
        cached = {out: i for i, node in enumerate(index.model.graph.node) for out in node.output if out}
        index._producers = cached
    return cached


def _evaluate(index, nodes: list[int], sources: set[str], static: dict, name: str) -> np.ndarray | None:
    from onnx.reference import ReferenceEvaluator

    inits = [numpy_helper.from_array(np.asarray(index.constant_array(s)), s) for s in sorted(sources)]
    graph_nodes = []
    for i in nodes:
        node = index.model.graph.node[i]
        if node.op_type in ("Shape", "Size") and node.input[0] in static:
            shape = static[node.input[0]]
            value = shape_value(node, shape)
            graph_nodes.append(helper.make_node("Constant", [], [node.output[0]],
                                                value=numpy_helper.from_array(value, node.output[0])))
        else:
            graph_nodes.append(node)
    out = helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None)
    graph = helper.make_graph(graph_nodes, "fold", [], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=list(index.model.opset_import))
    (value,) = ReferenceEvaluator(model).run(None, {})
    value = np.asarray(value)
    return value if value.nbytes <= MAX_BYTES else None
