"""Values ONNX knows before anything runs: a Shape or Size of a tensor whose shape is static is a constant.

TVM's frontend turns Shape into a relax shape value, not a tensor, which no kernel computes and no plugin output
can hold; with static shapes it is a constant, and constants are what plugins copy from (the launch plan's
copies). So the subgraph TVM imports has such nodes replaced by Constant nodes; the subgraph the plugin is
validated against keeps the real op.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

FOLDABLE = ("Shape", "Size")


def static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, for the tensors whose every dim is a known number (after shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        tt = vi.type.tensor_type
        if vi.type.WhichOneof("value") == "tensor_type" and tt.HasField("shape") and \
                all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    return shapes


def fold_static_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with every Shape/Size of a statically shaped tensor replaced by a Constant (a copy; the same
    model when there is none)."""
    if not any(n.op_type in FOLDABLE and n.domain in ("", "ai.onnx") for n in model.graph.node):
        return model
    shapes = static_shapes(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for i, node in enumerate(m.graph.node):
        if node.op_type not in FOLDABLE or node.domain not in ("", "ai.onnx") or node.input[0] not in shapes:
            continue
        value = shape_value(node, shapes[node.input[0]])
        const = helper.make_node("Constant", [], list(node.output), name=node.name,
                                 value=numpy_helper.from_array(value, node.output[0]))
        m.graph.node[i].CopyFrom(const)
    return m


def shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    """What a Shape (with its start/end) or Size node gives for a tensor of static `shape`."""
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)
