"""An unnamed dim (`unk__N`) that is a declared dynamic dim in disguise gets the declared name before extraction."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tpat.graph.symbolic_dims import has_unknown_dims, name_unknown_dims
from tpat.stages.extract import prepare_model

pytest.importorskip("sympy")


def _range_model(extra_nodes=(), extra_outputs=()) -> onnx.ModelProto:
    """ids = Range(0, batch, 1) built from Shape(x): ONNX infers its length as an unnamed dim."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    consts = [numpy_helper.from_array(np.array(v, dtype=np.int64), n)
              for n, v in (("zero", 0), ("one", 1), ("axis0", [0]), ("axes1", [1]))]
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["b"], axis=0),
        helper.make_node("Range", ["zero", "b", "one"], ["ids"]),
        helper.make_node("Cast", ["ids"], ["idsf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["idsf", "axes1"], ["col"]),
        helper.make_node("Add", ["col", "x"], ["y"]),
        *extra_nodes,
    ]
    graph = helper.make_graph(nodes, "g", [x], [out, *extra_outputs], consts)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _dims(model: onnx.ModelProto, name: str) -> list:
    for vi in (*model.graph.value_info, *model.graph.output):
        if vi.name == name:
            return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    raise KeyError(name)


def test_range_length_from_the_batch_is_named_batch():
    onnx_only = onnx.shape_inference.infer_shapes(_range_model(), data_prop=True)
    assert has_unknown_dims(onnx_only) and str(_dims(onnx_only, "ids")[0]).startswith("unk__")
    model = prepare_model(_range_model(), {"batch": object()})
    assert _dims(model, "ids") == ["batch"]
    assert _dims(model, "col") == ["batch", 1]


def test_an_undeclared_or_data_dependent_dim_stays_unnamed():
    nonzero = helper.make_node("NonZero", ["x"], ["nz"])
    model = prepare_model(_range_model([nonzero], [helper.make_tensor_value_info("nz", TensorProto.INT64, None)]),
                          {"batch": object()})
    assert str(_dims(model, "nz")[1]).startswith("unk__")  # NonZero's count: no declared dim
    onnx_only = onnx.shape_inference.infer_shapes(_range_model(), data_prop=True)
    assert name_unknown_dims(onnx_only, {"seq"}) is onnx_only  # batch not declared: nothing renamed
