"""Dtype policy: which tensors change precision, and the Casts the rewritten model gets."""

import onnx
import pytest
from onnx import TensorProto as T

import op_models
from tpat.errors import ModelError
from tpat.graph.dtype_policy import bf16_bits_to_float32, float32_to_bf16_bits
from tpat.spec import DimRange
from tpat.stages.extract import extract, prepare_model
from tpat.stages.rewrite import Replacement, rewrite
from tpat.graph.selection import select_targets

BATCH = {"batch": DimRange(min=1, opt=8, max=64)}


def _policy(model, policy):
    model = prepare_model(model, BATCH)
    (t,) = select_targets(model.graph, node_types=[model.graph.node[0].op_type])
    return extract(model, t, BATCH, policy)


def test_fp16_converts_data_tensors_and_constants_only():
    ex = _policy(op_models.layer_norm(), "fp16")
    assert [t.dtype.name for t in ex.signature.inputs + ex.signature.outputs] == ["float16", "float16"]
    assert {i.name: i.data_type for i in ex.subgraph.graph.initializer} == {"c0": T.FLOAT16, "c1": T.FLOAT16}
    assert ex.input_casts == {0: (T.FLOAT, T.FLOAT16)} and ex.output_casts == {0: (T.FLOAT, T.FLOAT16)}
    assert ex.reference.graph.input[0].type.tensor_type.elem_type == T.FLOAT


def test_fixed_type_inputs_keep_their_type():
    ex = _policy(op_models.resize_linear(), "fp16")
    scales = next(i for i in ex.subgraph.graph.initializer if i.dims == [4])
    assert scales.data_type == T.FLOAT, "Resize scales are tensor(float) by schema"
    ex = _policy(op_models.one_hot(), "fp16")
    assert ex.signature.inputs[0].dtype.name == "int64" and ex.signature.outputs[0].dtype.name == "float16"


def test_integer_ops_are_left_alone_and_keep_is_identity():
    assert _policy(op_models.mod_int(), "fp16").reference is None
    ex = _policy(op_models.softmax(), "keep")
    assert ex.reference is None and ex.input_casts == {}


def test_policy_not_allowed_by_the_schema_is_explained():
    with pytest.raises(ModelError, match="not allowed for OneHot"):
        _policy(op_models.one_hot(), "bf16")


def test_rewrite_adds_casts_around_the_plugin():
    model = op_models.layer_norm()
    out = rewrite(model, [Replacement(0, "ln/0", "p", ("x",), ("y",), ("gamma", "beta"),
                                      input_casts=((0, T.FLOAT16),), output_casts=((0, T.FLOAT),))])
    ops = [(n.op_type, list(n.input), list(n.output)) for n in out.graph.node]
    assert ops == [("Cast", ["x"], ["ln/0__tpat_in0"]), ("p", ["ln/0__tpat_in0"], ["ln/0__tpat_out0"]),
                   ("Cast", ["ln/0__tpat_out0"], ["y"])]
    assert [a.i for a in out.graph.node[0].attribute] == [T.FLOAT16]
    onnx.checker.check_model(out)


def test_bf16_bit_conversion_rounds_to_nearest_even():
    import numpy as np

    x = np.array([1.0, 1.00390625, 1.01171875, -3.5, np.inf, np.nan], np.float32)
    back = bf16_bits_to_float32(float32_to_bf16_bits(x))
    assert back[0] == 1.0 and back[1] == 1.0 and back[2] == 1.015625 and back[3] == -3.5
    assert np.isinf(back[4]) and np.isnan(back[5])


def test_end_to_end_fp16_policy_builds(tmp_path):
    import tpat

    onnx.save(op_models.softmax(), tmp_path / "m.onnx")
    r = tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o.onnx", node_types=["Softmax"], dynamic_bs=True,
                         validate="never", dtype="fp16")
    (p,) = r.plugins
    assert p.signature.inputs[0].dtype.name == "float16"
    assert (tmp_path / "trt_plugin" / "meta" / f"{p.plugin}.ref.onnx").is_file()
    out = onnx.load(tmp_path / "o.onnx")
    assert [n.op_type for n in out.graph.node] == ["Cast", p.plugin, "Cast"]
    assert out.graph.output[0].type.tensor_type.elem_type == T.FLOAT
