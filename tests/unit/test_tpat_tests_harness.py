"""The harness that runs Tencent/TPAT's tests/test_tpat.py with only its TensorRT step replaced
(tpat/conformance/tpat_tests.py), on a file shaped as TPAT's: imports TensorRT and pycuda, builds a model with
onnx.helper, calls TPAT's onnx2plugin, then builds an engine. Needs neither TVM nor TensorRT."""

from __future__ import annotations

import ast
import json
import textwrap

import numpy as np
import onnx
from onnx import numpy_helper

from tpat.conformance.tpat_tests import collect, transform, without_main_block

TPAT_SHAPED = textwrap.dedent('''
    import os
    import sys
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, mapping
    import pycuda.driver as cuda
    import tensorrt as trt
    sys.path.append("..")
    from python import *
    os.chdir("../python/")
    np.random.seed(0)
    TRT_LOGGER = trt.Logger(trt.Logger.WARNING)
    INPUT_MODEL_FILE = "model/test_op_plugin.onnx"

    def verify(model, inputs, op_name):
        onnx.save(model, INPUT_MODEL_FILE)
        in_data = inputs
        names = onnx2plugin(INPUT_MODEL_FILE, "model/out.onnx", node_names=[op_name], dynamic_bs=False, min_bs=1,
                            max_bs=256, opt_bs=128)
        cuda.Device(0).make_context()
        with trt.Builder(TRT_LOGGER) as builder:
            raise AssertionError("the TensorRT step must not run")

    def helper_without_trt(path):
        return onnx2plugin(path, "x.onnx", node_names=["n"])

    def test_relu():
        x = np.random.randn(2, 3).astype(np.float32)
        node = helper.make_node("Relu", ["x"], ["y"], name="relu_0")
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
        assert mapping.NP_TYPE_TO_TENSOR_TYPE[np.dtype("float32")] == TensorProto.FLOAT
        verify(helper.make_model(graph), [x], "relu_0")

    def test_broken():
        raise TypeError("TPAT's own bug")

    if __name__ == "__main__":
        # test_relu()
''')


def test_the_main_block_is_dropped_so_tpats_file_parses():
    ast.parse(without_main_block(TPAT_SHAPED))


def test_only_the_tail_after_onnx2plugin_that_uses_tensorrt_is_cut():
    tree, cut = transform(ast.parse(without_main_block(TPAT_SHAPED)), tf_available=False)
    assert cut == ["verify"]
    source = ast.unparse(tree)
    assert "tensorrt" not in source and "pycuda" not in source and "TRT_LOGGER =" not in source
    assert "return __tpat_harness_trt_step__(locals())" in source
    assert "return onnx2plugin(path" in source  # a function with no TensorRT step after its call is untouched


def test_each_call_is_recorded_with_tpats_arguments_model_and_inputs(tmp_path):
    test_file = tmp_path / "tests" / "test_tpat.py"
    test_file.parent.mkdir()
    test_file.write_text(TPAT_SHAPED)
    summary = collect(test_file, tmp_path / "out")
    by_test = {t["test"]: t for t in summary["tests"]}
    assert by_test["test_relu"]["status"] == "passed", by_test["test_relu"]
    assert by_test["test_broken"]["status"] == "failed" and "TPAT's own bug" in by_test["test_broken"]["error"]
    (name,) = summary["calls"]
    folder = tmp_path / "out" / "calls" / name
    call = json.loads((folder / "call.json").read_text())
    assert call["test"] == "test_relu" and call["inputs"] == 1
    assert call["args"] == {"input_model_path": "model/test_op_plugin.onnx", "output_model_path": "model/out.onnx",
                            "node_names": ["relu_0"], "node_types": None, "plugin_name_dict": None,
                            "dynamic_bs": False, "min_bs": 1, "max_bs": 256, "opt_bs": 128}
    model = onnx.load(str(folder / "model.onnx"))
    assert model.graph.node[0].name == "relu_0"
    assert model.opset_import[0].version == 15  # onnx 1.10's default, as TPAT's tests made their models
    np.random.seed(0)
    t = onnx.TensorProto()
    t.ParseFromString((folder / "graph_input_0.pb").read_bytes())
    np.testing.assert_array_equal(numpy_helper.to_array(t), np.random.randn(2, 3).astype(np.float32))
    assert "python" not in __import__("sys").modules  # TPAT's package stand-in is gone afterwards
