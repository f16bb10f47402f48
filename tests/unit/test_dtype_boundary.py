"""Dtypes at the plugin boundary: TensorRT's types pass, double runs in float32 between Casts under `dtype: fp32`,
and a tensor no TensorRT engine can carry is refused with its name and the way out."""

from __future__ import annotations

import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import fixed_model
from tpat.errors import ModelError
from tpat.graph.selection import select_targets
from tpat.stages.extract import extract, prepare_model


def _extract(model, policy="keep"):
    model = prepare_model(model, {})
    (target,) = select_targets(model.graph, node_types=[model.graph.node[0].op_type])
    return extract(model, target, {}, policy)


def _reduce_lse(elem):
    node = h.make_node("ReduceLogSumExp", ["x"], ["y"], name="lse", keepdims=1)
    return fixed_model(node, [h.make_tensor_value_info("x", elem, [3, 4])],
                       [h.make_tensor_value_info("y", elem, [1, 1])], opset=17)


def test_a_double_node_runs_in_float32_between_casts_under_dtype_fp32():
    ex = _extract(_reduce_lse(T.DOUBLE), "fp32")
    assert [t.dtype.name for t in ex.signature.inputs + ex.signature.outputs] == ["float32", "float32"]
    assert ex.input_casts == {0: (T.DOUBLE, T.FLOAT)} and ex.output_casts == {0: (T.DOUBLE, T.FLOAT)}
    assert ex.reference is not None  # validated against the node at double precision


def test_a_double_node_without_a_policy_is_refused_with_the_way_out():
    with pytest.raises(ModelError, match="tensor 'x' has dtype DOUBLE") as e:
        _extract(_reduce_lse(T.DOUBLE))
    assert "dtype: fp32" in str(e.value)


def test_a_16_bit_integer_tensor_is_refused_with_its_name():
    node = h.make_node("Add", ["a", "b"], ["c"], name="add16")
    model = fixed_model(node, [h.make_tensor_value_info(n, T.INT16, [4]) for n in "ab"],
                        [h.make_tensor_value_info("c", T.INT16, [4])], opset=17)
    with pytest.raises(ModelError, match="'add16' \\(Add\\): tensor 'a' has dtype INT16") as e:
        _extract(model, "fp32")
    assert "TensorRT has no int16 tensors" in str(e.value)


def test_a_double_input_that_is_not_the_data_type_says_the_policy_cannot_help():
    node = h.make_node("Cast", ["x"], ["y"], name="c", to=T.FLOAT)
    model = fixed_model(node, [h.make_tensor_value_info("x", T.DOUBLE, [4])],
                        [h.make_tensor_value_info("y", T.FLOAT, [4])], opset=17)
    with pytest.raises(ModelError, match="tensor 'x' has dtype DOUBLE") as e:
        _extract(model, "fp32")
    assert "cast it to float in the model" in str(e.value)
