"""Extract: cut one target node out of its model into a standalone ONNX model with symbolic dims.

Shapes come from ONNX shape inference; onnxruntime's symbolic inference only names the dims it leaves unnamed
(see `graph.symbolic_dims`).
The declared dynamic dims (batch and any other) stay symbolic, named by C-safe dim names, so TVM generates one
kernel for the whole range. Small constant inputs stay initializers of the subgraph: TVM folds them into the
kernel or passes them as constants the plugin uploads once; large ones become plugin inputs, which TensorRT feeds
from its own constant layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from ..errors import ModelError
from ..ir import expr as E
from ..ir.dtypes import dtype_from_onnx
from ..ir.signature import DimSpec, Signature, TensorSig
from ..names import identifier
from ..graph.dtype_policy import convert as convert_dtypes
from ..graph.folding import fold
from ..graph.model_index import ConstantInfo, ModelIndex, with_shape_constants
from ..graph.selection import Target
from ..graph.symbolic_dims import name_unknown_dims

if TYPE_CHECKING:  # the spec's range type: anything with min, opt and max will do
    from ..spec.model import DimRange

EMBED_LIMIT_BYTES = 64 * 1024
BATCH = "batch"


@dataclass(frozen=True)
class Extracted:
    target: Target
    subgraph: onnx.ModelProto
    signature: Signature
    input_names: tuple[str, ...]  # model tensor feeding each plugin input
    output_names: tuple[str, ...]
    folded_inputs: tuple[str, ...] = field(default=())  # model tensors baked into the plugin
    # dtype policy: the node at the model's own precision (validation reference) and the casts around the plugin
    reference: onnx.ModelProto | None = None
    input_casts: dict = field(default_factory=dict)  # plugin input index -> (model elem type, plugin elem type)
    output_casts: dict = field(default_factory=dict)


def mark_batch_dims(model: onnx.ModelProto, name: str = BATCH) -> onnx.ModelProto:
    """TPAT's convention: axis 0 of a graph input that is 0, -1 or unset is the batch; give it a dim_param."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    for vi in m.graph.input:
        if vi.name in inits or not vi.type.tensor_type.shape.dim:
            continue
        d0 = vi.type.tensor_type.shape.dim[0]
        if not d0.dim_param and d0.dim_value <= 0:
            d0.dim_param = name
    return m


def prepare_model(model: onnx.ModelProto, dynamic: Mapping[str, DimRange],
                  base_dir: str | Path | None = None) -> onnx.ModelProto:
    """A copy with the batch dim named (TPAT's 0/-1 convention) when it is declared dynamic, shapes inferred (an
    unnamed dim that is a declared one in disguise named so: `graph.symbolic_dims`).

    A model with external data (`base_dir`: the folder of its file) gets its small 0-D/1-D external constants
    read in first: ONNX shape inference reads shapes, axes and scales from such constants but never from files."""
    if BATCH in dynamic:
        model = mark_batch_dims(model)
    if base_dir is not None:
        model = with_shape_constants(model, Path(base_dir), EMBED_LIMIT_BYTES)
    return name_unknown_dims(infer_shapes(model), dynamic)


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise ModelError(f"ONNX shape inference failed: {str(exc).splitlines()[0][:300]}",
                         hint="the model is inconsistent; check it with onnx.checker and onnxruntime") from exc


def extract(model: ModelIndex | onnx.ModelProto, target: Target, dynamic: Mapping[str, DimRange],
            dtype_policy: str = "keep", as_inputs: Collection[str] = ()) -> Extracted:
    """`model` must already carry dim_params for the dynamic dims and inferred shapes (see `prepare_model`).
    Pass a `ModelIndex` of it when extracting several targets: a bare model is indexed anew on every call.
    `as_inputs`: small constants that stay plugin inputs instead of being baked in (`pattern_constants`).

    `dtype_policy` (keep | fp32 | fp16 | bf16) sets the precision the plugin computes in (see `dtype_policy`)."""
    index = model if isinstance(model, ModelIndex) else ModelIndex(model)
    graph, shapes = index.graph, index.shapes
    group = [graph.nodes[i] for i in target.indices]
    where = f"node {target.node_name!r} ({target.op_type})"
    if len(group) > 1 and dtype_policy != "keep":
        raise ModelError(f"{where}: a dtype policy applies to single-node plugins only",
                         hint="set `dtype: keep` for this model, or fuse fewer nodes")
    dim_names = _DimNames(dynamic)
    produced = {t.name for n in group for t in n.outputs}
    sub_inputs, plugin_inputs, folded = [], [], []
    tensors: dict[str, object] = {}  # model tensor name -> the subgraph's tensor

    def external(tensor):
        const = _constant(index, tensor)
        if const is None:  # computed from constants and static shapes only (a Reshape's shape): a constant too
            const = fold(index, tensor.name)
        if const is not None and const.nbytes <= EMBED_LIMIT_BYTES and tensor.name not in as_inputs:
            folded.append(tensor.name)
            value = index.constant_array(tensor.name) if isinstance(const, ConstantInfo) else const
            return _folded(f"c{len(folded) - 1}", np.array(value, order="C"))
        if isinstance(const, ConstantInfo):  # large: a plugin input; its bytes are never read
            elem, dims = const.elem, const.dims
        elif const is not None:
            elem, dims = onnx.helper.np_dtype_to_tensor_dtype(const.dtype), list(const.shape)
        else:
            known = shapes.get(tensor.name)
            if known is None:
                raise ModelError(f"{where}: shape of input {tensor.name!r} is unknown after shape inference",
                                 hint="add a value_info for it or export the model with shapes")
            elem, dims = known
        sub_inputs.append(_variable(f"in{len(sub_inputs)}", elem, dims, dim_names, where, tensor.name))
        plugin_inputs.append(tensor.name)  # the same tensor twice (Add(x, x)) is one plugin input
        return sub_inputs[-1]

    boundary = _boundary_outputs(index, target)
    outputs, sub_nodes = [], []
    for k, node in enumerate(group):
        node_inputs = []
        for tensor in node.inputs:
            if tensor.name == "":
                node_inputs.append(gs.Variable.empty())
            elif tensor.name in tensors:
                node_inputs.append(tensors[tensor.name])
            elif tensor.name in produced:
                raise ModelError(f"{where}: the fused nodes are not in topological order")
            else:
                tensors[tensor.name] = external(tensor)
                node_inputs.append(tensors[tensor.name])
        node_outputs = []
        for tensor in node.outputs:
            if tensor.name == "":  # an optional output the model omits: omitted in the plugin too
                node_outputs.append(gs.Variable.empty())
                continue
            if tensor.name in boundary:
                known = shapes.get(tensor.name)
                elem = known[0] if known else (tensor.dtype and
                                               onnx.helper.np_dtype_to_tensor_dtype(np.dtype(tensor.dtype)))
                if not elem:
                    raise ModelError(f"{where}: dtype of output {tensor.name!r} is unknown after shape inference")
                out = _variable(f"out{len(outputs)}", elem, known[1] if known else None, dim_names, where,
                                tensor.name, allow_unknown=True)
                outputs.append((tensor.name, out))
            else:
                out = gs.Variable(f"t{len(tensors)}")
            tensors[tensor.name] = out
            node_outputs.append(out)
        # Named after the op, not the model's node: identical nodes give identical bytes (plugin reuse).
        name = node.op.lower() if len(group) == 1 else f"{node.op.lower()}{k}"
        sub_nodes.append(gs.Node(node.op, name=name, attrs=dict(node.attrs), inputs=node_inputs,
                                 outputs=node_outputs, domain=node.domain))
    sub = gs.Graph(nodes=sub_nodes, inputs=sub_inputs, outputs=[o for _, o in outputs], name="tpat_subgraph",
                   opset=graph.opset, import_domains=graph.import_domains)
    proto = gs.export_onnx(sub, do_type_check=False)
    proto.producer_name, proto.producer_version = "tpat", ""
    proto.ir_version = index.model.ir_version
    conversion = convert_dtypes(proto, dtype_policy, where)
    _refuse_untyped(conversion.model, plugin_inputs, [n for n, _ in outputs], where, dtype_policy)
    sig = _signature(conversion.model, dim_names, dynamic, where)
    converted = conversion.model is not proto
    return Extracted(target, conversion.model, sig, tuple(plugin_inputs), tuple(n for n, _ in outputs),
                     tuple(folded), proto if converted and (conversion.inputs or conversion.outputs) else None,
                     conversion.inputs, conversion.outputs)


_PACKED = {onnx.TensorProto.INT4, onnx.TensorProto.UINT4, onnx.TensorProto.FLOAT4E2M1}
_PACKED |= {getattr(onnx.TensorProto, n) for n in ("INT2", "UINT2") if hasattr(onnx.TensorProto, n)}


def _folded(name: str, value: np.ndarray) -> gs.Constant:
    """A folded constant. Sub-byte types (int4, float4...) go through onnx's own packing: graphsurgeon would write
    one byte per element and produce a tensor onnx refuses (a QuantizeLinear's int4 zero point)."""
    elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    if elem in _PACKED:
        from onnx import numpy_helper
        from onnx_graphsurgeon.ir.tensor import LazyValues

        return gs.Constant(name, LazyValues(numpy_helper.from_array(value, name)))
    return gs.Constant(name, value)


def _boundary_outputs(index: ModelIndex, target: Target) -> list[str]:
    """Tensors the plugin must produce: all outputs of a single node (as the node had them); for a fused group,
    those used outside it or returned by the graph."""
    nodes = [index.model.graph.node[i] for i in target.indices]
    if len(nodes) == 1:
        return [t for t in nodes[0].output if t]  # '' is an optional output the model omits
    inside = set(target.indices)
    names = [t for n in nodes for t in n.output if index.used_outside(t, inside)]
    if not names:
        raise ModelError(f"node {target.node_name!r} ({target.op_type}): the fused group's results are unused")
    return names


def _constant(index: ModelIndex, tensor) -> ConstantInfo | np.ndarray | None:
    """An initializer or Constant output as the index describes it (bytes unread), the values of a constant the
    index does not describe (a sparse initializer), or None for a computed tensor."""
    info = index.constant(tensor.name)
    if info is not None:
        return info
    if isinstance(tensor, gs.Constant):
        return np.asarray(tensor.values)
    return None


class _DimNames:
    """Model dim_params -> C-safe dim names for the declared dynamic dims, in order of first use."""

    def __init__(self, dynamic: Mapping[str, DimRange]):
        self.declared = dict(dynamic)
        self.used: dict[str, str] = {}

    def name_for(self, label: str) -> str | None:
        if label not in self.declared:
            return None
        if label not in self.used:
            base, name, n = identifier(label, "dim"), identifier(label, "dim"), 1
            while name in self.used.values():
                n += 1
                name = f"{base}_{n}"
            self.used[label] = name
        return self.used[label]


def _variable(name, elem, dims, dim_names: _DimNames, where, model_name, allow_unknown=False):
    shape = None
    if dims is not None:
        shape = []
        for axis, d in enumerate(dims):
            if isinstance(d, int):
                shape.append(d)
            elif d is None:
                if not allow_unknown:
                    raise ModelError(f"{where}: axis {axis} of input {model_name!r} has no known size",
                                     hint="give the model static shapes or name the dim (dim_param) and declare it "
                                     "dynamic")
                shape.append(None)
            else:
                dim = dim_names.name_for(d)
                if dim is None and not allow_unknown:
                    raise ModelError(
                        f"{where}: axis {axis} of input {model_name!r} is the symbolic dim {d!r}, "
                        "which is not declared dynamic",
                        hint=f"declare it (spec `dynamic: {{{d}: {{min, opt, max}}}}`, or -dynamic for the batch) "
                        "or export the model with a static size",
                    )
                shape.append(dim)
    return gs.Variable(name, dtype=onnx.helper.tensor_dtype_to_np_dtype(elem), shape=shape)


def _refuse_untyped(proto: onnx.ModelProto, inputs: list[str], outputs: list[str], where: str, policy: str) -> None:
    """The plugin's tensors (after the dtype policy) must have a TensorRT type: name the first that has none and
    the way out (double: compute in float32 between Casts; other types: none in TensorRT)."""
    boundary = [(vi, name) for vi, name in zip(proto.graph.input, inputs)]
    boundary += [(vi, name) for vi, name in zip(proto.graph.output, outputs)]
    for vi, name in boundary:
        elem = vi.type.tensor_type.elem_type
        if dtype_from_onnx(elem) is not None:
            continue
        tname = onnx.TensorProto.DataType.Name(elem)
        if elem == onnx.TensorProto.DOUBLE and policy != "keep":  # not the node's data type (a Cast's input)
            hint = (f"`dtype: {policy}` converts the node's data tensors only; TensorRT cannot carry a double "
                    "tensor at all: cast it to float in the model")
        elif elem == onnx.TensorProto.DOUBLE:
            hint = ("compute it in float32 between Casts: `dtype: fp32` in the spec, --dtype fp32 (onnx2plugin), "
                    "dtype='fp32' (Python API)")
        elif tname.startswith(("FLOAT8", "FLOAT4", "INT4", "UINT4", "INT2", "UINT2")):
            hint = ("tpat's plugins take float32/16, bfloat16, int8/32/64, uint8 and bool tensors; leave this node to "
                    "TensorRT (its own quantization layers handle fp8, fp4 and int4)")
        else:
            hint = (f"TensorRT has no {tname.lower()} tensors (it takes float32/16, bfloat16, int8/32/64, uint8 and "
                    "bool), so no engine can carry this tensor: cast it in the model or leave the node out")
        raise ModelError(f"{where}: tensor {name!r} has dtype {tname}, which a TensorRT plugin cannot carry",
                         hint=hint)


def _signature(proto: onnx.ModelProto, dim_names: _DimNames, dynamic, where: str) -> Signature:
    dims: list[DimSpec] = []
    index: dict[str, int] = {}
    inputs = []
    for i, vi in enumerate(proto.graph.input):
        shape = []
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.dim_param:
                if d.dim_param not in index:
                    label = next(k for k, v in dim_names.used.items() if v == d.dim_param)
                    r = dynamic[label]
                    index[d.dim_param] = len(dims)
                    dims.append(DimSpec(d.dim_param, label, r.min, r.opt, r.max, i, axis))
                shape.append(E.Dim(index[d.dim_param], d.dim_param))
            else:
                shape.append(int(d.dim_value))
        inputs.append(TensorSig(vi.name, dtype_from_onnx(vi.type.tensor_type.elem_type), tuple(shape)))
    outputs = []
    for vi in proto.graph.output:
        shape = []
        t = vi.type.tensor_type
        for d in t.shape.dim if t.HasField("shape") else ():
            if d.dim_param and d.dim_param in index:
                shape.append(E.Dim(index[d.dim_param], d.dim_param))
            elif d.HasField("dim_value") and d.dim_value > 0:
                shape.append(int(d.dim_value))
            else:
                shape.append(-1)  # unknown to ONNX shape inference: lowering reads it from TVM
        outputs.append(TensorSig(vi.name, dtype_from_onnx(t.elem_type), tuple(shape)))
    return Signature(tuple(inputs), tuple(outputs), tuple(dims))
