"""Launch plans read from TVM's IR: grid/block as expressions of the dims, workspace, constants, errors."""

import json

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from node_helpers import lower_node
from tpat.errors import LoweringError
from tpat.ir import expr as E


def test_softmax_grid_is_an_expression_of_batch():
    ex, low = lower_node(op_models.softmax())
    (k,) = low.launch_plan.kernels
    assert k.name == "softmax_kernel"
    # tpat's short-row rule: 8 rows of 128 fp32 per batch, 16 lanes per row (32 bytes each), 8 rows per block
    assert E.to_str(k.grid[0]) == "batch" and k.grid[1:] == (1, 1)
    assert k.block == (16, 8, 1) and k.dyn_smem == 0
    assert [a.kind for a in k.args] == ["output", "input", "scalar"]
    assert [E.evaluate(k.grid[0], [b]) for b in (1, 7, 256)] == [1, 7, 256]


def test_reduce_max_grid_rounds_up():
    _, low = lower_node(op_models.reduce_max())  # (batch, 82, 16) over axis 1: 32 outputs a block
    grid = low.launch_plan.kernels[0].grid[0]
    assert E.to_str(grid) == "((batch + 1) // 2)"
    assert [E.evaluate(grid, [b]) for b in (1, 2, 3)] == [1, 1, 2]


def test_scatter_nd_has_three_kernels_and_a_workspace_in_order():
    _, low = lower_node(op_models.scatter_nd())
    names = [k.name for k in low.launch_plan.kernels]
    assert names == ["fused_shape_to_tensor_less_strided_slice_add_where_kernel", "scatter_nd_flat_kernel",
                     "scatter_nd_flat_kernel_1"]
    (buf,) = low.launch_plan.buffers
    assert E.evaluate(buf.size, [3]) == 3 * 5 * 2 * 8  # normalised int64 indices
    assert E.evaluate(low.launch_plan.workspace, [3]) == 256  # aligned
    first, _, last = low.launch_plan.kernels
    assert first.args[0].kind == "workspace" and any(a.kind == "workspace" for a in last.args)


def test_layer_norm_constants_are_planned_for_upload_once():
    _, low = lower_node(op_models.layer_norm())
    assert [c.shape for c in low.launch_plan.constants] == [(64,), (64,)]
    gamma = onnx.numpy_helper.to_array(op_models.layer_norm().graph.initializer[0])
    assert low.launch_plan.constants[0].data == gamma.tobytes() or low.launch_plan.constants[1].data == gamma.tobytes()
    kinds = [a.kind for a in low.launch_plan.kernels[0].args]
    assert kinds.count("constant") == 2


def test_one_hot_output_dtype_is_fixed_to_the_declared_float32():
    _, low = lower_node(op_models.one_hot())
    assert low.signature.outputs[0].dtype.name == "float32"
    assert "cast" in low.launch_plan.kernels[0].name


def test_plan_is_plain_json():
    _, low = lower_node(op_models.scatter_nd())
    text = json.dumps(low.launch_plan.to_json(), sort_keys=True)
    assert '"kind": "workspace"' in text and '"dim": 0' in text


def _convert(model, tmp_path):
    import tpat

    onnx.save(model, tmp_path / "m.onnx")
    return tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o.onnx", node_types=[model.graph.node[0].op_type],
                            dynamic_bs=True, validate="never")


def test_unsupported_op_names_node_op_and_reason(tmp_path):
    # DeformConv: an op neither TVM's frontend nor tpat/legalize converts (Det was the example before tpat got one)
    node = h.make_node("DeformConv", ["x", "w", "offset"], ["y"], name="dc0", kernel_shape=[2, 2])
    model = op_models._model(node, [op_models._vi("x", T.FLOAT, ["batch", 1, 4, 4]),
                                    op_models._vi("w", T.FLOAT, [1, 1, 2, 2]),
                                    op_models._vi("offset", T.FLOAT, ["batch", 8, 3, 3])],
                             [op_models._vi("y", T.FLOAT, ["batch", 1, 3, 3])], opset=19)
    with pytest.raises(LoweringError) as e:
        _convert(model, tmp_path)
    assert "'dc0' (DeformConv)" in str(e.value) and "not supported" in str(e.value)
    assert not (tmp_path / "o.onnx").exists()


def test_det_under_a_dynamic_batch_converts(tmp_path):
    """tpat's Det converter (LU over a static matrix size) takes leading dims that are dynamic: it crashed on the
    batch's symbolic size (an internal error) where it should build one kernel for every batch."""
    node = h.make_node("Det", ["x"], ["y"], name="det0")
    model = op_models._model(node, [op_models._vi("x", T.FLOAT, ["batch", 3, 3])],
                             [op_models._vi("y", T.FLOAT, ["batch"])])
    (plugin,) = _convert(model, tmp_path).plugins
    assert [d.name for d in plugin.signature.dims] == ["batch"]


def test_data_dependent_shape_is_explained(tmp_path):
    node = h.make_node("NonZero", ["x"], ["y"], name="nz")
    model = op_models._model(node, [op_models._vi("x", T.FLOAT, ["batch", 4])], [op_models._vi("y", T.INT64, [2, "n"])])
    with pytest.raises(LoweringError, match="'nz' \\(NonZero\\).*runtime function"):
        _convert(model, tmp_path)
