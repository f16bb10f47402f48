"""The whole-model runner on the CPU: the partition into onnxruntime sessions, the run itself with each plugin
node run by its own node model (the reference backend), and the comparison that names the plugin at fault."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import encoder_models
from runtime_helpers import planned_rewrite
from tpat.errors import TpatError
from tpat.graph.partition import Segment, partition
from tpat.runtime.check import dim_points
from tpat.runtime.inputs import index_bounds
from tpat.runtime.whole_model import check_files
from workflow_helpers import tpat_cli

DYNAMIC = {"batch": {"min": 1, "opt": 4, "max": 8}, "seq": {"min": 2, "opt": 16, "max": 32}}
PATTERNS = {"fuse_patterns": [["Add", "LayerNormalization"], ["Div?", "Add", "Softmax"], encoder_models.GELU_DAG]}


def _plugin(name, inputs, outputs):
    return h.make_node("tpat_erf", inputs, outputs, name=name, domain="trt.plugins")


def test_independent_plugins_share_the_sessions_around_them():
    """Relu, plugin, Relu, plugin, Add in graph order: cutting at each plugin would make 3 sessions; the plugins
    do not feed each other, so 2 do (both Relus before, the Add after)."""
    nodes = [h.make_node("Relu", ["x"], ["a"], name="ra"), _plugin("p1", ["a"], ["pa"]),
             h.make_node("Relu", ["y"], ["b"], name="rb"), _plugin("p2", ["b"], ["pb"]),
             h.make_node("Add", ["pa", "pb"], ["z"], name="add")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info(n, T.FLOAT, [4]) for n in "xy"],
                     [h.make_tensor_value_info("z", T.FLOAT, [4])])
    steps = partition(g).steps
    assert [type(s).__name__ for s in steps] == ["Segment", "PluginStep", "PluginStep", "Segment"]
    first, last = steps[0], steps[-1]
    assert (first.nodes, first.inputs, first.outputs) == ([0, 2], ["x", "y"], ["a", "b"])
    assert (last.nodes, last.inputs, last.outputs) == ([4], ["pa", "pb"], ["z"])


def test_a_chain_of_plugins_needs_a_session_between_each():
    nodes = [h.make_node("Relu", ["x"], ["a"]), _plugin("p1", ["a"], ["b"]), h.make_node("Relu", ["b"], ["c"]),
             _plugin("p2", ["c"], ["d"]), _plugin("p3", ["d"], ["e"]), h.make_node("Neg", ["a"], ["f"])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [4])],
                     [h.make_tensor_value_info(n, T.FLOAT, [4]) for n in "ef"])
    steps = partition(g).steps
    kinds = [(type(s).__name__, s.nodes if isinstance(s, Segment) else s.node_name) for s in steps]
    assert kinds == [("Segment", [0, 5]), ("PluginStep", "p1"), ("Segment", [2]), ("PluginStep", "p2"),
                     ("PluginStep", "p3")]
    assert steps[0].outputs == ["a", "f"]  # `a` for p1, `f` a graph output


def test_odd_point_is_odd_and_inside_every_range():
    points = dict(dim_points({"batch": (1, 4, 8), "seq": (16, 64, 128)}))
    assert points["odd"] == {"batch": 7, "seq": 17}
    assert list(points) == ["min", "opt", "max", "odd"]
    assert dim_points({}) == [("static", {})]


def test_integer_inputs_index_inside_what_they_index():
    emb = nh.from_array(np.zeros((50, 8), np.float32), "emb")
    nodes = [h.make_node("Unsqueeze", ["ids", "ax"], ["u"]), h.make_node("Gather", ["emb", "u"], ["e"], axis=0),
             h.make_node("Cast", ["mask"], ["m"], to=T.FLOAT)]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("ids", T.INT64, ["batch", 3]),
                                  h.make_tensor_value_info("mask", T.INT64, ["batch", 3])],
                     [h.make_tensor_value_info("e", T.FLOAT, None), h.make_tensor_value_info("m", T.FLOAT, None)],
                     initializer=[emb, nh.from_array(np.array([1], np.int64), "ax")])
    assert index_bounds(h.make_model(g, opset_imports=[h.make_opsetid("", 17)])) == {"ids": 50, "mask": 2}


@pytest.fixture(scope="module")
def encoder_rewrite(tmp_path_factory):
    return planned_rewrite(tmp_path_factory.mktemp("enc"), encoder_models.encoder(layers=2), PATTERNS, DYNAMIC)


def test_rewritten_encoder_matches_the_original_at_every_point(encoder_rewrite):
    model, original, plugin_dir, plan = encoder_rewrite
    result = check_files(model, original, plugin_dir, backend="reference")
    assert result.passed, result.summary()
    assert [(p.label, p.dims) for p in result.points] == [
        ("min", {"batch": 1, "seq": 2}), ("opt", {"batch": 4, "seq": 16}), ("max", {"batch": 8, "seq": 32}),
        ("odd", {"batch": 7, "seq": 7})]
    assert (result.plugin_nodes, result.plugins) == (8, 3)
    # the 8 plugin nodes form one chain (softmax -> LN -> GELU -> LN per layer): a session before each, one after
    assert result.sessions == 9
    assert max(p.max_abs_err for p in result.points) < 1e-4


def test_a_miswired_plugin_is_named(encoder_rewrite, tmp_path):
    """gamma and beta swapped on the second layer's first Add+LayerNorm plugin node: the output differs, and the
    report names that node (its own outputs differ), not the plugins after it."""
    model, original, plugin_dir, _ = encoder_rewrite
    m = onnx.load(str(model))
    node = next(n for n in m.graph.node if n.name == "/encoder/layer.1/attention/output/LayerNorm")
    node.input[2], node.input[3] = node.input[3], node.input[2]
    broken = model.parent / "broken.tpat.onnx"
    onnx.save(m, broken)
    result = check_files(broken, original, plugin_dir, backend="reference")
    assert not result.passed
    bad = result.points[0]
    assert bad.first_bad_output == "last_hidden_state"
    assert "(node '/encoder/layer.1/attention/output/LayerNorm'): its own outputs differ" in bad.suspect


def test_a_dim_without_range_asks_for_one(tmp_path):
    """Only the Softmax is converted and it reads both dims; a model input dim no plugin reads needs --dim."""
    model = encoder_models.encoder(layers=1)
    model.graph.input[1].type.tensor_type.shape.dim[3].dim_param = "keys"  # the mask's own dim name
    model.graph.input[1].type.tensor_type.shape.dim[3].ClearField("dim_value")
    path, original, plugin_dir, _ = planned_rewrite(tmp_path, model, {"op_types": ["Erf"]}, DYNAMIC)
    with pytest.raises(TpatError, match="dynamic dim 'keys'.*no range") as info:
        check_files(path, original, plugin_dir, backend="reference")
    assert "--dim keys=MIN:OPT:MAX" in str(info.value)


def test_cli_run_finds_the_original_in_the_manifest_or_asks(encoder_rewrite):
    model, original, plugin_dir, _ = encoder_rewrite
    proc = tpat_cli("run", str(model), "--backend", "reference")
    assert proc.returncode == 1 and "--original" in proc.stderr
    proc = tpat_cli("run", str(model), "--backend", "reference", "--original", str(original))
    assert proc.returncode == 0, proc.stderr
    assert "PASS m.tpat.onnx vs m.onnx: 8 plugin nodes (3 plugins, reference), 9 onnxruntime sessions" in proc.stdout
    proc = tpat_cli("validate", "--model", str(model), "--backend", "reference", "--original", str(original),
                    "--json")
    assert proc.returncode == 0 and '"passed": true' in proc.stdout
