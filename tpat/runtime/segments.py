"""One onnxruntime session per segment of a rewritten model (`tpat.graph.partition`).

A segment's model holds its nodes, the constants they read and, for every tensor crossing its border, the type the
rewritten model declares, the plugin's signature gives (a plugin's outputs) or ONNX shape inference finds in an
earlier segment. onnxruntime runs on CUDA when its CUDA provider is there, else on the CPU.
"""

from __future__ import annotations

import onnx
from onnx import helper

from ..errors import ModelError
from ..graph.links import node_inputs
from ..graph.partition import PLUGIN_DOMAIN, Segment


def providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def declared_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    g = model.graph
    types = {vi.name: vi.type for vi in (*g.input, *g.value_info, *g.output) if vi.type.HasField("tensor_type")}
    for t in g.initializer:
        types.setdefault(t.name, helper.make_tensor_type_proto(t.data_type, list(t.dims)))
    return types


def segment_model(model: onnx.ModelProto, seg: Segment, types: dict[str, onnx.TypeProto]) -> onnx.ModelProto:
    """The segment as a model of its own; adds the types of its outputs to `types` (later segments read them)."""
    g = model.graph
    nodes = [g.node[i] for i in seg.nodes]
    reads = {t for n in nodes for t in node_inputs(n)}
    inits = [t for t in g.initializer if t.name in reads]
    inputs = []
    for name in seg.inputs:
        if name not in types:
            raise ModelError(f"type of tensor {name!r} is unknown, so it cannot cross into an onnxruntime session",
                             hint="run ONNX shape inference on the model (onnx.shape_inference) and save it again")
        inputs.append(_value_info(name, types[name]))
    made = {t for n in nodes for t in n.output}
    infos = [_value_info(name, ty) for name, ty in types.items() if name in made and name not in seg.outputs]
    outputs = [_value_info(name, types[name]) if name in types else onnx.ValueInfoProto(name=name)
               for name in seg.outputs]
    graph = helper.make_graph(nodes, f"segment_{seg.depth}", inputs, outputs, initializer=inits, value_info=infos)
    opsets = [o for o in model.opset_import if o.domain != PLUGIN_DOMAIN]
    sub = helper.make_model(graph, opset_imports=opsets, functions=list(model.functions))
    sub.ir_version = model.ir_version
    missing = [o.name for o in sub.graph.output if not o.type.HasField("tensor_type")]
    if missing:
        inferred = onnx.shape_inference.infer_shapes(sub)
        found = {vi.name: vi.type for vi in (*inferred.graph.value_info, *inferred.graph.output)
                 if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type}
        for o in sub.graph.output:
            if o.name in missing:
                if o.name not in found:
                    raise ModelError(f"type of tensor {o.name!r} is unknown after shape inference",
                                     hint="save the model with its value_info (shape inference) and try again")
                o.type.CopyFrom(found[o.name])
    for o in sub.graph.output:
        types.setdefault(o.name, o.type)
    return sub


def _value_info(name: str, ty: onnx.TypeProto) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto(name=name)
    vi.type.CopyFrom(ty)
    return vi


def session(model: onnx.ModelProto, provider_list: list[str]):
    import onnxruntime as ort

    from ..graph.ort_reference import session_options

    return ort.InferenceSession(model.SerializeToString(), session_options(model), providers=provider_list)
