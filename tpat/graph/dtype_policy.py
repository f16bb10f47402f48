"""Dtype policy: run a plugin in another float precision than the model (spec `dtype: fp16 | bf16 | fp32`).

Only the node's *data* tensors change (float, half, bfloat16 or double ones: TensorRT has no double type, so a
double node runs in TensorRT only this way): those bound to the same ONNX type variable as its first output (Softmax's
`T`, OneHot's `T3`, Resize's `T1`...). Fixed-type inputs (Resize `scales`: tensor(float)) and index tensors are
left alone, as the op schema requires. The rewritten model casts into and out of the plugin, so the rest of the
graph keeps its dtypes; validation compares with the original-precision node (see `validate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import numpy_helper

from ..errors import ModelError

TARGETS = {"fp32": T.FLOAT, "fp16": T.FLOAT16, "bf16": T.BFLOAT16}
FLOATS = (T.FLOAT, T.FLOAT16, T.BFLOAT16, T.DOUBLE)  # data types a policy converts from (double: no TensorRT type)


@dataclass(frozen=True)
class Conversion:
    model: onnx.ModelProto  # the node with converted data tensors (what the plugin computes)
    inputs: dict[int, tuple[int, int]]  # graph input index -> (model elem type, plugin elem type)
    outputs: dict[int, tuple[int, int]]


def _type_vars(node: onnx.NodeProto, opset: int):
    schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    formal_in = [p.type_str for p in schema.inputs]
    formal_out = [p.type_str for p in schema.outputs]
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}

    def at(formals, i):
        return formals[min(i, len(formals) - 1)] if formals else None  # variadic: the last formal repeats

    return [at(formal_in, i) for i in range(len(node.input))], [at(formal_out, i) for i in range(len(node.output))], \
        allowed


def convert(subgraph: onnx.ModelProto, policy: str, where: str) -> Conversion:
    if policy == "keep":
        return Conversion(subgraph, {}, {})
    target = TARGETS[policy]
    m = onnx.ModelProto()
    m.CopyFrom(subgraph)
    node = m.graph.node[0]
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 17)
    ins, outs, allowed = _type_vars(node, opset)
    data_var = outs[0]
    if data_var not in allowed:
        return Conversion(m, {}, {})
    data_type = m.graph.output[0].type.tensor_type.elem_type
    if data_type not in FLOATS or data_type == target:
        return Conversion(m, {}, {})
    if _type_string(target) not in allowed[data_var]:
        raise ModelError(f"{where}: dtype policy {policy!r} is not allowed for {node.op_type}'s data type",
                         hint="set `dtype: keep` for this model (or per model entry)")
    data_names = {name for name, var in zip(node.input, ins) if var == data_var and name}
    input_casts, output_casts = {}, {}
    for i, vi in enumerate(m.graph.input):
        tt = vi.type.tensor_type
        if vi.name in data_names and tt.elem_type in FLOATS and tt.elem_type != target:
            input_casts[i] = (tt.elem_type, target)
            tt.elem_type = target
    for init in m.graph.initializer:
        if init.name in data_names and init.data_type in FLOATS and init.data_type != target:
            init.CopyFrom(_cast_tensor(init, target))
    for i, (vi, var) in enumerate(zip(m.graph.output, outs)):
        tt = vi.type.tensor_type
        if var == data_var and tt.elem_type in FLOATS and tt.elem_type != target:
            output_casts[i] = (tt.elem_type, target)
            tt.elem_type = target
    onnx.checker.check_model(m)
    return Conversion(m, input_casts, output_casts)


def _type_string(elem: int) -> str:
    return {T.FLOAT: "tensor(float)", T.FLOAT16: "tensor(float16)", T.BFLOAT16: "tensor(bfloat16)"}[elem]


def _cast_tensor(t: onnx.TensorProto, target: int) -> onnx.TensorProto:
    values = to_float32(t)
    if target == T.BFLOAT16:
        out = onnx.TensorProto(name=t.name, data_type=T.BFLOAT16, dims=list(t.dims))
        out.raw_data = float32_to_bf16_bits(values).tobytes()
        return out
    return numpy_helper.from_array(values.astype(onnx.helper.tensor_dtype_to_np_dtype(target)), t.name)


def to_float32(t: onnx.TensorProto) -> np.ndarray:
    if t.data_type == T.BFLOAT16:
        bits = np.frombuffer(t.raw_data, np.uint16) if t.raw_data else np.array(t.int32_data, np.uint16)
        return bf16_bits_to_float32(bits).reshape(tuple(t.dims))
    return numpy_helper.to_array(t).astype(np.float32)


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round to nearest even, as CUDA's __float2bfloat16 does; NaN stays NaN."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(x), np.uint16(0x7FC0), rounded)


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)
