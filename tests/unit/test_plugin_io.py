"""The reference a plugin node is checked against inside a larger model (tpat/conformance/plugin_io.py), and which
source tensors a rewritten plugin node reads and writes (tpat_upstream.plugin_wiring): real onnx models,
real onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper

from tpat.conformance.plugin_io import DEFERRED, materialized, read_tensor, tensor_values, write_tensor
from tpat.conformance.tpat_upstream import plugin_wiring


def _chain() -> onnx.ModelProto:
    """x -> Relu -> r -> Mul(w) -> m -> Neg -> y: the Mul node reads an intermediate and an initializer."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Mul", ["r", "w"], ["m"], name="mul"),
             helper.make_node("Neg", ["m"], ["y"], name="neg")]
    w = onnx.numpy_helper.from_array(np.full((2, 3), 3.0, np.float32), "w")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_intermediate_tensors_come_from_onnxruntime_initializers_from_the_model():
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    values = tensor_values(_chain(), [x], ["r", "w", "m", "x"])
    np.testing.assert_array_equal(values["r"], np.maximum(x, 0))
    np.testing.assert_array_equal(values["w"], np.full((2, 3), 3.0, np.float32))
    np.testing.assert_array_equal(values["m"], 3 * np.maximum(x, 0))
    np.testing.assert_array_equal(values["x"], x)


def test_a_deferred_case_is_materialized_as_gpu_check_reads_a_case(tmp_path):
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    onnx.save(_chain(), str(tmp_path / "source.onnx"))
    write_tensor(tmp_path / "graph_input_0.pb", x, "graph_input_0")
    (tmp_path / DEFERRED).write_text(json.dumps({"model": "source.onnx", "graph_inputs": ["graph_input_0.pb"],
                                                 "inputs": ["r", "w"], "outputs": ["m"],
                                                 "meta": {"name": "c", "rtol": 1e-5, "atol": 1e-5}}))
    out = materialized(tmp_path)
    meta = json.loads((out / "case.json").read_text())
    assert [t["name"] for t in meta["inputs"]] == ["r", "w"] and [t["name"] for t in meta["outputs"]] == ["m"]
    np.testing.assert_array_equal(read_tensor(out / "output_0.pb"), 3 * np.maximum(x, 0))
    assert not onnx.load(str(out / "model.onnx")).graph.initializer


def test_plugin_wiring_follows_the_casts_a_dtype_policy_puts_around_the_plugin():
    source = _chain()
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(source)
    del rewritten.graph.node[1]
    rewritten.graph.node.insert(1, helper.make_node("Cast", ["r"], ["r_half"], to=TensorProto.FLOAT16))
    rewritten.graph.node.insert(2, helper.make_node("tpat_mul", ["r_half", "w"], ["m_half"], name="mul",
                                                    domain="trt.plugins"))
    rewritten.graph.node.insert(3, helper.make_node("Cast", ["m_half"], ["m"], to=TensorProto.FLOAT))
    assert plugin_wiring(source, rewritten, "tpat_mul") == (["r", "w"], ["m"])
