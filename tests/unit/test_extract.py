import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import op_models
from node_helpers import extract_node
from tpat.errors import ModelError
from tpat.ir import expr as E
from tpat.spec import DimRange
from tpat.stages.extract import EMBED_LIMIT_BYTES

BATCH = {"batch": DimRange(min=1, opt=128, max=256)}


def test_symbolic_batch_is_kept_and_read_from_an_input():
    ex = extract_node(op_models.scatter_nd())
    sig = ex.signature
    assert [d.name for d in sig.dims] == ["batch"]
    assert (sig.dims[0].input, sig.dims[0].axis) == (0, 0)
    assert [t.shape for t in sig.inputs] == [(E.Dim(0, "batch"), 16, 8), (E.Dim(0, "batch"), 5, 2),
                                             (E.Dim(0, "batch"), 5, 8)]
    assert ex.input_names == ("data", "indices", "updates")
    assert [i.name for i in ex.subgraph.graph.input] == ["in0", "in1", "in2"]
    dim = ex.subgraph.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"
    onnx.checker.check_model(ex.subgraph)


def test_tpat_zero_batch_convention_becomes_symbolic():
    model = op_models.erf()
    model.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 0
    sig = extract_node(model).signature
    assert sig.inputs[0].shape[0] == E.Dim(0, "batch")


def test_other_dynamic_dims_by_name():
    model = op_models._model(h.make_node("Erf", ["x"], ["y"], name="e"), [op_models._vi("x", T.FLOAT, ["N", "seq"])],
                             [op_models._vi("y", T.FLOAT, ["N", "seq"])])
    sig = extract_node(model, {"N": DimRange(min=1, opt=4, max=8), "seq": DimRange(min=16, opt=64, max=128)}).signature
    assert [(d.name, d.min, d.max, d.axis) for d in sig.dims] == [("N", 1, 8, 0), ("seq", 16, 128, 1)]


def test_undeclared_symbolic_dim_is_an_actionable_error():
    model = op_models._model(h.make_node("Erf", ["x"], ["y"], name="e"), [op_models._vi("x", T.FLOAT, ["batch", "seq"])],
                             [op_models._vi("y", T.FLOAT, ["batch", "seq"])])
    with pytest.raises(ModelError, match="symbolic dim 'seq', which is not declared dynamic") as e:
        extract_node(model)
    assert "declare it" in str(e.value)


def test_small_constants_are_baked_in_large_ones_stay_inputs():
    small = np.ones((16, 8), np.float32)
    large = np.ones((EMBED_LIMIT_BYTES // 4 + 16,), np.float32)
    node = h.make_node("Einsum", ["x", "w"], ["y"], name="es", equation="bi,i->b")
    model = op_models._model(node, [op_models._vi("x", T.FLOAT, ["batch", large.size])],
                             [op_models._vi("y", T.FLOAT, ["batch"])], [nh.from_array(large, "w")])
    ex = extract_node(model)
    assert ex.input_names == ("x", "w") and ex.folded_inputs == ()
    ex2 = extract_node(op_models.einsum())
    assert ex2.input_names == ("x",) and ex2.folded_inputs == ("w",)
    assert small.nbytes < EMBED_LIMIT_BYTES


def test_constant_node_inputs_are_folded():
    const = h.make_node("Constant", [], ["k"], value=nh.from_array(np.array([3], np.int32)))
    mod = h.make_node("Mod", ["a", "k"], ["y"], name="m")
    g = h.make_graph([const, mod], "g", [op_models._vi("a", T.INT32, ["batch", 4])],
                     [op_models._vi("y", T.INT32, ["batch", 4])])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    ex = extract_node(model, op_type="Mod")
    assert ex.input_names == ("a",) and ex.folded_inputs == ("k",)


def test_float64_is_refused_with_reason():
    model = op_models._model(h.make_node("Erf", ["x"], ["y"], name="e"), [op_models._vi("x", T.DOUBLE, ["batch", 4])],
                             [op_models._vi("y", T.DOUBLE, ["batch", 4])])
    with pytest.raises(ModelError, match="DOUBLE, which a TensorRT plugin cannot carry"):
        extract_node(model)


def test_fixed_shape_mode_needs_static_shapes():
    with pytest.raises(ModelError, match="not declared dynamic"):
        extract_node(op_models.erf(), dynamic={})


def test_an_omitted_optional_output_stays_omitted():
    """LSTM with only Y_h (outputs ['', 'Y_h']): '' was taken for an output tensor ('dtype of output '' is
    unknown'); the plugin has one output and the node keeps its empty slot."""
    from node_helpers import fixed_model

    x = h.make_tensor_value_info("X", T.FLOAT, [1, 3, 2])
    w = nh.from_array(np.ones((1, 12, 2), np.float32), "W")
    r = nh.from_array(np.ones((1, 12, 3), np.float32), "R")
    node = h.make_node("LSTM", ["X", "W", "R"], ["", "Y_h"], name="lstm", hidden_size=3)
    model = fixed_model(node, [x], [h.make_tensor_value_info("Y_h", T.FLOAT, [1, 3, 3])], [w, r], opset=14)
    ex = extract_node(model, {})
    assert ex.output_names == ("Y_h",)
    assert list(ex.subgraph.graph.node[0].output) == ["", "out0"]
    assert [t.shape for t in ex.signature.outputs] == [(1, 3, 3)]


def _view_model(batch):
    """PyTorch's x.view(b, -1): the shape computed by Shape -> Gather -> Concat."""

    x = h.make_tensor_value_info("x", T.FLOAT, [batch, 3, 4])
    y = h.make_tensor_value_info("y", T.FLOAT, [batch, 12])
    nodes = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
             h.make_node("Concat", ["b", "m1"], ["shape"], axis=0), h.make_node("Reshape", ["x", "shape"], ["y"],
                                                                             name="r")]
    inits = [nh.from_array(np.array([0], np.int64), "i0"), nh.from_array(np.array([-1], np.int64), "m1")]
    graph = h.make_graph(nodes, "g", [x], [y], initializer=inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def test_a_shape_computed_from_static_shapes_is_folded_into_the_plugin():
    """A runtime shape input is a data-dependent shape for TVM; with static shapes it is a constant. One that
    depends on a declared dynamic dim varies and stays a plugin input."""
    ex = extract_node(_view_model(2), {}, op_type="Reshape")
    assert ex.input_names == ("x",) and ex.folded_inputs == ("shape",)
    (init,) = ex.subgraph.graph.initializer
    assert nh.to_array(init).tolist() == [2, -1]
    ex = extract_node(_view_model("batch"), op_type="Reshape")
    assert ex.input_names == ("x", "shape") and ex.folded_inputs == ()
