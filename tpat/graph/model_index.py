"""One index of a model, built once, from which every target of that model is extracted.

Extraction needs the graph (onnx-graphsurgeon's view of it), the dtype and shape of every tensor, which nodes read
each tensor (a fused group's outputs used outside it) and the constants. Building that per target made planning
grow with targets x model size (3,000 targets of a 3,000-node model: 8 minutes); built once per model, a target
costs only its own nodes.

Constants are described from their TensorProto (dtype, dims, size) without reading their bytes: a model over
2 GB keeps its weights in external data files, and extraction reads only the few small constants it bakes into a
plugin (`constant_array`), from the folder of the model file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import numpy_helper
from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

from ..errors import ModelError


class TensorShapes:
    """Dtype and shape of every tensor name, from graph inputs, value_info and outputs."""

    def __init__(self, model: onnx.ModelProto):
        self.info: dict[str, onnx.TypeProto] = {}
        g = model.graph
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            self.info[vi.name] = vi.type

    def get(self, name: str) -> tuple[int, list] | None:
        """(elem_type, [int | str | None per axis]) or None if the rank is unknown."""
        t = self.info.get(name)
        if t is None or not t.tensor_type.HasField("shape"):
            return None
        dims = []
        for d in t.tensor_type.shape.dim:
            # 0 is a size (an empty tensor): TPAT's 0-means-batch was turned into a dim_param when the batch is dynamic
            dims.append(d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else (d.dim_param or None))
        return t.tensor_type.elem_type, dims


@dataclass(frozen=True)
class ConstantInfo:
    """A constant input of a target: its dtype, dims and size, known without reading its bytes."""

    name: str
    elem: int
    dims: list[int]
    nbytes: int


class ModelIndex:
    """`model` carries inferred shapes (see `extract.prepare_model`); `base_dir` is the folder of the model file,
    where its external data lives (None for a model built in memory)."""

    def __init__(self, model: onnx.ModelProto, base_dir: str | Path | None = None):
        self.model = model
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.graph = gs.import_onnx(model)  # node i of the graph is node i of the model
        self.shapes = TensorShapes(model)
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(model.graph.node):
            for name in node.input:
                self.consumers.setdefault(name, []).append(i)
        self.graph_outputs = {o.name for o in model.graph.output}
        self._tensors: dict[str, onnx.TensorProto] = {t.name: t for t in model.graph.initializer}
        for node in model.graph.node:  # Constant nodes' `value` is a constant like an initializer
            if node.op_type == "Constant" and node.output:
                value = next((a.t for a in node.attribute if a.name == "value" and a.type == a.TENSOR), None)
                if value is not None:
                    self._tensors.setdefault(node.output[0], value)

    def used_outside(self, name: str, group: set[int]) -> bool:
        """Whether a node outside `group` (node indices) reads tensor `name`, or the graph returns it."""
        return name in self.graph_outputs or any(i not in group for i in self.consumers.get(name, ()))

    def constant(self, name: str) -> ConstantInfo | None:
        """The initializer or Constant node output `name`, described without loading it; None if not a dense
        constant of this index (sparse initializers: see `extract`)."""
        t = self._tensors.get(name)
        if t is None:
            return None
        dims = [int(d) for d in t.dims]
        try:
            itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except (KeyError, TypeError, ValueError):  # no NumPy type: its size is what loading it gives
            return ConstantInfo(name, t.data_type, dims, self.constant_array(name).nbytes)
        return ConstantInfo(name, t.data_type, dims, int(np.prod(dims, dtype=np.int64)) * itemsize)

    def constant_array(self, name: str) -> np.ndarray:
        """The constant's values, read from the model's external data file when it has one."""
        t = self._tensors[name]
        if uses_external_data(t):
            t = load_tensor_data(t, self.base_dir, name)
        return numpy_helper.to_array(t)


def load_tensor_data(tensor: onnx.TensorProto, base_dir: Path | None, name: str) -> onnx.TensorProto:
    """A copy of an external tensor with its bytes read in. onnx's loader refuses locations outside `base_dir`."""
    if base_dir is None:
        raise ModelError(f"constant {name!r} is stored in an external data file, but the model was given in memory",
                         hint="load the model from its file so its data files can be found")
    copy = onnx.TensorProto()
    copy.CopyFrom(tensor)
    try:
        load_external_data_for_tensor(copy, str(base_dir))
    except Exception as exc:
        where = next((e.value for e in tensor.external_data if e.key == "location"), "?")
        raise ModelError(f"cannot read constant {name!r} from external data file {where!r} in {str(base_dir)!r}: "
                         f"{str(exc).splitlines()[0][:300]}",
                         hint="keep the model's data files beside it, as they were saved") from exc
    copy.data_location = onnx.TensorProto.DEFAULT
    del copy.external_data[:]
    return copy


def with_shape_constants(model: onnx.ModelProto, base_dir: Path, limit: int) -> onnx.ModelProto:
    """`model`, or a copy with its external initializers of rank <= 1 and at most `limit` bytes read in (shapes,
    axes, scales: what shape inference reads). Weights stay in their files."""
    small = []
    for i, t in enumerate(model.graph.initializer):
        if uses_external_data(t) and len(t.dims) <= 1:
            try:
                itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
            except (KeyError, TypeError, ValueError):
                continue
            if int(np.prod(t.dims, dtype=np.int64)) * itemsize <= limit:
                small.append(i)
    if not small:
        return model
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for i in small:
        t = m.graph.initializer[i]
        t.CopyFrom(load_tensor_data(t, base_dir, t.name))
    return m
