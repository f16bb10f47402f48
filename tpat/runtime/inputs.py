"""Random inputs a whole model accepts, at given values of its dynamic dims.

Floats are standard normal. Integer inputs are usually indices (token ids into an embedding, edge lists into node
features, ids into OneHot): random int64 would index out of range and onnxruntime fails. So an integer input gets
values below the smallest bound found where it is used as indices -- following it through Cast, Unsqueeze,
Reshape and the like -- and [0, 2) (a mask) where no such use is found.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import TpatError

_PASS_THROUGH = {"Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Identity", "Expand", "Slice",
                 "Split", "Concat", "Tile"}
_INDEX_SLOT = {"Gather": 1, "GatherElements": 1, "GatherND": 1, "ScatterND": 1, "ScatterElements": 1, "OneHot": 0,
               "Embedding": 1}
MASK_BOUND = 2


def dynamic_dims(model: onnx.ModelProto, batch_label: str = "batch") -> list[str]:
    """The names of the graph inputs' dynamic dims, in order of first use (an unnamed axis 0 of size 0/-1/unset
    is the batch, TPAT's convention)."""
    names: dict[str, None] = {}
    for vi in _graph_inputs(model):
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.dim_param:
                names.setdefault(d.dim_param)
            elif d.dim_value <= 0 and axis == 0:
                names.setdefault(batch_label)
    return list(names)


def _graph_inputs(model: onnx.ModelProto) -> list:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def input_shape(vi, dims: Mapping[str, int], batch_label: str = "batch") -> tuple[int, ...]:
    shape = []
    for axis, d in enumerate(vi.type.tensor_type.shape.dim):
        if d.dim_param or (d.dim_value <= 0 and axis == 0):
            label = d.dim_param or batch_label
            if label not in dims:
                raise TpatError(f"input {vi.name!r}: axis {axis} is the dynamic dim {label!r}, which has no value",
                                hint=f"give its range, e.g. --dim {label}=1:8:32")
            shape.append(int(dims[label]))
        elif d.dim_value > 0:
            shape.append(int(d.dim_value))
        else:
            raise TpatError(f"input {vi.name!r}: axis {axis} has no size and no name",
                            hint="export the model with named dynamic dims")
    return tuple(shape)


def index_bounds(model: onnx.ModelProto) -> dict[str, int]:
    """Integer graph input -> exclusive upper bound for its values (see the module's doc)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {vi.name: [d.dim_value if d.dim_value > 0 else None for d in vi.type.tensor_type.shape.dim]
              for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)}
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    consts = {t.name: t for t in model.graph.initializer}
    readers: dict[str, list] = {}
    for n in model.graph.node:
        for slot, t in enumerate(n.input):
            readers.setdefault(t, []).append((n, slot))
    bounds = {}
    for vi in _graph_inputs(model):
        if vi.type.tensor_type.elem_type not in (onnx.TensorProto.INT64, onnx.TensorProto.INT32):
            continue
        found, todo, seen = [], [vi.name], set()
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            for n, slot in readers.get(t, ()):
                if n.op_type in _PASS_THROUGH and slot == 0 or n.op_type in ("Concat", "Gather") and slot == 0:
                    todo.extend(n.output)  # values pass on unchanged (a Gather of the ids picks some of them)
                elif _INDEX_SLOT.get(n.op_type) == slot:
                    bound = _bound(n, shapes, consts)
                    if bound:
                        found.append(bound)
        bounds[vi.name] = min(found) if found else MASK_BOUND
    return bounds


def _bound(node, shapes, consts) -> int | None:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "OneHot":
        depth = consts.get(node.input[1])
        return int(numpy_helper.to_array(depth).reshape(-1)[0]) if depth is not None else None
    data = shapes.get(node.input[0]) or []
    if node.op_type in ("Gather", "GatherElements", "ScatterElements"):
        axis = attrs.get("axis", 0)
        size = data[axis] if -len(data) <= axis < len(data) else None
    else:  # GatherND / ScatterND: an index tuple of k values addresses the k axes after the batch axes
        batch = attrs.get("batch_dims", 0)
        index_shape = shapes.get(node.input[1]) or []
        k = index_shape[-1] if index_shape and index_shape[-1] else len(data) - batch
        known = [d for d in data[batch:batch + k] if d]
        size = min(known) if known else None
    return int(size) if size else None


def random_inputs(model: onnx.ModelProto, dims: Mapping[str, int], seed: int,
                  bounds: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    bounds = index_bounds(model) if bounds is None else bounds
    feeds = {}
    for vi in _graph_inputs(model):
        shape = input_shape(vi, dims)
        elem = vi.type.tensor_type.elem_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
        if elem == onnx.TensorProto.BOOL:
            feeds[vi.name] = rng.random(shape) < 0.5
        elif np.issubdtype(dtype, np.integer):
            feeds[vi.name] = rng.integers(0, bounds.get(vi.name, MASK_BOUND), shape).astype(dtype)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds
