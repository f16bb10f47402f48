"""graph/if_branches: an If of plain tensor branches becomes both branches and a Where, for TVM's import only."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.reference import ReferenceEvaluator

from tpat.graph.if_branches import inline_if_branches


def _branch(name: str, scale: float, shape: list[int]) -> onnx.GraphProto:
    k = nh.from_array(np.full(shape, scale, np.float32), "k")
    return h.make_graph([h.make_node("Mul", ["x", "k"], ["out"])], name, [],
                        [h.make_tensor_value_info("out", T.FLOAT, shape)], initializer=[k])


def _model(then_shape, else_shape) -> onnx.ModelProto:
    node = h.make_node("If", ["cond"], ["y"], name="if", then_branch=_branch("then", 2.0, then_shape),
                       else_branch=_branch("else", -1.0, else_shape))
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("cond", T.BOOL, []),
                                       h.make_tensor_value_info("x", T.FLOAT, [3])],
                         [h.make_tensor_value_info("y", T.FLOAT, [3])])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def test_an_if_of_tensor_branches_computes_the_same_as_a_where():
    model = _model([3], [3])
    inlined = inline_if_branches(model)
    assert "If" not in [n.op_type for n in inlined.graph.node] and inlined.graph.node[-1].op_type == "Where"
    assert [n.op_type for n in model.graph.node] == ["If"]  # the input model is left as it was
    onnx.checker.check_model(inlined)
    x = np.array([1.0, -2.0, 3.0], np.float32)
    for cond in (True, False):
        feeds = {"cond": np.array(cond), "x": x}
        (want,) = ReferenceEvaluator(model).run(None, feeds)
        (got,) = ReferenceEvaluator(inlined).run(None, feeds)
        np.testing.assert_array_equal(got, want)


def test_branches_of_different_shapes_stay_an_if():
    model = _model([3], [1])
    assert inline_if_branches(model) is model
