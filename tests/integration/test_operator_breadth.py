"""Operators the conformance census found broken (issue 18): each case here failed before its fix.

Cases come from ONNX's own node test suite (`tests/conformance_helpers.py`); each goes through the pipeline as
`tpat conformance` runs it. Their numbers are checked on a GPU by tests/gpu/test_conformance_gpu.py.
"""

from __future__ import annotations

import pytest
from conformance_fixed import (
    CONVERTED_BY_TPAT,
    CUMSUM_VIEWS,
    DOUBLE_AS_FLOAT,
    EMPTY_OUTPUTS,
    LOWERED_NOW,
    MULTI_OUTPUT,
    NEW_CONVERTERS,
    NOT_BUILT,
    OUTPUTS_COPIED,
    ROIALIGN,
    WRONG_BEFORE,
)
from conformance_helpers import built, convert, plugin_meta, suite

import tpat
from tpat.errors import InternalError


@pytest.mark.parametrize("name", OUTPUTS_COPIED)
def test_outputs_tvm_does_not_compute_are_copied_into_place(name, tmp_path):
    """Identity returns its input, Constant/Size/ConstantOfShape a constant, Shape a relax shape value: each
    crashed the launch-plan reader (Index out of range, AttributeError). The plugin copies them instead."""
    result = convert(name, tmp_path)
    assert built(result)
    plan = plugin_meta(tmp_path, result)["launch_plan"]
    assert plan["kernels"] == [] and [c["output"] for c in plan["copies"]] == [0]


@pytest.mark.parametrize("name", MULTI_OUTPUT)
def test_multi_output_nodes_convert(name, tmp_path):
    """Split's and TopK's outputs come out of a tuple (TupleGetItem); TopK's PrimFunc allocates its own
    temporaries, which now live in the plugin's workspace."""
    result = convert(name, tmp_path)
    assert built(result)
    sig = plugin_meta(tmp_path, result)["signature"]
    assert len(sig["outputs"]) == len(suite()[name].meta["outputs"]) > 1


def test_a_dlight_rule_that_asserts_declines_and_the_next_rule_schedules(tmp_path):
    """dlight's Reduction rule asserts on RoiAlign's loops (a bare AssertionError reached the user)."""
    (name,) = ROIALIGN
    assert built(convert(name, tmp_path))


def test_a_tvm_failure_says_which_check_failed_in_which_pass(tmp_path):
    result = convert("test_lrn", tmp_path)
    if result.status == "built":
        pytest.skip("LRN converts now")
    assert "lines skipped" not in result.error and "(in FuseTIRInner)" in result.error


def test_an_exception_of_tpats_own_lowering_code_is_a_bug_not_a_tvm_limitation(tmp_path, monkeypatch):
    """A crash in the launch-plan reader was reported as "TVM could not lower node ...": it is tpat's bug (exit 70
    with the traceback under -v)."""
    import onnx

    from tpat.lowering import launch_reader

    def broken(self):  # an IndexError raised inside tpat's code, as the reader's was on a node without kernels
        from tpat.ir import expr as E

        return E.evaluate(E.Dim(3, "batch"), [])

    monkeypatch.setattr(launch_reader.LaunchPlanReader, "read", broken)
    case = suite()["test_relu"]
    onnx.save(onnx.load(str(case.model_path)), tmp_path / "m.onnx")
    with pytest.raises(InternalError) as e:
        tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o.onnx", node_types=["Relu"], validate="never",
                         cache_dir=tmp_path / "cache")
    assert "IndexError" in e.value.traceback_text


@pytest.mark.parametrize("name", CUMSUM_VIEWS)
def test_cumsum_reads_its_reshape_views(name, tmp_path):
    """CumSum's stock GPU lowering reshapes through `vm.builtin.reshape` (a view, not a runtime computation)
    and runs in float32 under the conformance run's `dtype: fp32` (the suite's CumSum cases are double)."""
    result = convert(name, tmp_path)
    assert built(result) and result.policy == "fp32"


def test_a_host_loop_of_kernel_launches_is_unrolled_at_static_shapes(tmp_path):
    """TVM's TopK merges sorted runs in a host loop of launches; at static shapes the trip count is a number and
    the plan holds each round's launch. (k = 64: above the k of tpat's warp-per-row TopK, tpat/schedules/topk.py;
    this used CumSum, whose float rows are now tpat's one-kernel scan.)"""
    import numpy as np
    from node_helpers import extract_node, fixed_model
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    from tpat.stages.lower import lower

    node = h.make_node("TopK", ["x", "k"], ["v", "i"], name="tk", axis=-1)
    model = fixed_model(node, [h.make_tensor_value_info("x", T.FLOAT, [2, 1000])],
                        [h.make_tensor_value_info("v", T.FLOAT, [2, 64]), h.make_tensor_value_info("i", T.INT64, [2, 64])],
                        [nh.from_array(np.array([64], np.int64), "k")])
    ex = extract_node(model, {})
    kernels = [k.name for k in lower(ex.subgraph, ex.signature).launch_plan.kernels]
    assert kernels.count("topk_kernel_2") == 3, kernels


@pytest.mark.parametrize("name", DOUBLE_AS_FLOAT)
def test_double_cases_run_in_float32_between_casts(name, tmp_path):
    result = convert(name, tmp_path)
    assert built(result) and result.policy == "fp32"
    sig = plugin_meta(tmp_path, result)["signature"]
    assert {t["dtype"] for t in sig["inputs"] + sig["outputs"]} == {"float32"}


@pytest.mark.parametrize("name", CONVERTED_BY_TPAT + WRONG_BEFORE + NEW_CONVERTERS + LOWERED_NOW)
def test_case_converts_and_its_import_computes_the_expected_outputs(name, tmp_path):
    """Converts (lower, codegen, build); the relax program TVM imports, run on the CPU, gives ONNX's outputs
    (the GPU kernels are checked by tests/gpu/test_conformance_gpu.py)."""
    from conformance_helpers import cpu_check

    result = convert(name, tmp_path)
    if name in NOT_BUILT:  # int4: was an internal error (graphsurgeon cannot write int4 constants)
        assert result.status == "failed" and result.stage == "extract" and "INT4" in result.error
        return
    assert built(result)
    bad = [(out, err) for out, err, ok in cpu_check(name) if not ok]
    assert not bad, bad


@pytest.mark.parametrize("name", EMPTY_OUTPUTS)
def test_empty_outputs_are_constants_without_elements(name, tmp_path):
    """Split into parts of size 0 failed in TVM (split indices must increase, then a loop over nothing), Reshape
    with allowzero made its shape a runtime value; their outputs hold no element: constants the plugin copies."""
    result = convert(name, tmp_path)
    assert built(result)
    plan = plugin_meta(tmp_path, result)["launch_plan"]
    outputs = suite()[name].meta["outputs"]
    assert sorted(c["output"] for c in plan["copies"]) == list(range(len(outputs)))
    assert all(c["nbytes"] == 0 for c in plan["copies"])


def test_a_reshape_whose_shape_the_model_computes_from_static_shapes_converts(tmp_path):
    """x.view(b, -1) exported: Shape -> Gather -> Concat -> Reshape. The shape used to be a plugin input, which
    TVM cannot lower (a data-dependent shape); folded, the Reshape converts and the plugin takes x alone."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3, 4])
    y = h.make_tensor_value_info("y", T.FLOAT, [2, 12])
    nodes = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "i0"], ["b"], axis=0),
             h.make_node("Concat", ["b", "m1"], ["shape"], axis=0),
             h.make_node("Reshape", ["x", "shape"], ["y"], name="r")]
    inits = [onnx.numpy_helper.from_array(__import__("numpy").array([v], "int64"), n) for n, v in
             (("i0", 0), ("m1", -1))]
    model = h.make_model(h.make_graph(nodes, "g", [x], [y], initializer=inits),
                         opset_imports=[h.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "view.onnx")
    result = tpat.onnx2plugin(tmp_path / "view.onnx", tmp_path / "out" / "view.tpat.onnx", node_names=["r"],
                              validate="never")
    (plugin,) = result.plugins
    assert [t.shape for t in plugin.signature.inputs] == [(2, 3, 4)]
    rewritten = onnx.load(str(tmp_path / "out" / "view.tpat.onnx"))
    assert [list(n.input) for n in rewritten.graph.node if n.op_type == plugin.plugin] == [["x"]]


def test_gather_elements_under_a_dynamic_batch(tmp_path):
    """Its converter passes the batch to a kernel as a scalar relax variable, which the reader took for a tensor
    ("kernel argument batch has no known storage"). Numbers: tests/gpu (op_models.EXTRA_OPS)."""
    import onnx
    import op_models

    onnx.save(op_models.gather_elements(), tmp_path / "ge.onnx")
    result = tpat.onnx2plugin(tmp_path / "ge.onnx", tmp_path / "out" / "ge.tpat.onnx", node_names=["gather_el"],
                              dynamic_bs=True, min_bs=1, opt_bs=16, max_bs=64, validate="never")
    (plugin,) = result.plugins
    assert [d.name for d in plugin.signature.dims] == ["batch"]


@pytest.mark.parametrize("axes, shape", [((0, 1), [3, 10, 5]), (None, [3, 8, 5]), ((2, -3), [2, 10, 4])])
def test_slice_of_opset_1_reads_starts_ends_and_axes_from_attributes(axes, shape, tmp_path):
    """TPAT's own test_slice converts an opset-1 Slice (starts, ends, axes are attributes until opset 10): TVM's
    frontend read them as inputs only ("Cannot cast NoneType to list of Expr")."""
    import onnx
    from onnx import TensorProto, helper

    starts, ends = ((0, 0), (3, 10)) if axes == (0, 1) else ((0, 2), (3, 10)) if axes is None else ((1, 0), (5, 2))
    attrs = {"starts": starts, "ends": ends, **({"axes": axes} if axes else {})}
    node = helper.make_node("Slice", ["in"], ["out"], name="slice_0", **attrs)
    graph = helper.make_graph([node], "slice_test", [helper.make_tensor_value_info("in", TensorProto.FLOAT, [20, 10, 5])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 1)]), str(tmp_path / "m.onnx"))
    result = tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "out.onnx", node_names=["slice_0"], validate="never",
                              kernels_only=True)
    (plugin,) = result.plugins
    assert [list(t.concrete_shape([])) for t in plugin.signature.outputs] == [shape]
