"""Rewrite invariants: one plugin node per target, everything else byte-identical, checker passes."""

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tpat.stages.rewrite import PLUGIN_DOMAIN, Replacement, rewrite


def _model():
    nodes = [
        h.make_node("Mul", ["x", "half"], ["a"], name="mul"),
        h.make_node("OneHot", ["idx", "depth", "vals"], ["oh"], name="onehot"),
        h.make_node("Softmax", ["a"], ["s"], name="softmax", axis=-1),
        h.make_node("Cast", ["idx"], ["idx_out"], name="keep_int64", to=T.INT64),
    ]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 8]),
                                  h.make_tensor_value_info("idx", T.INT64, ["batch", 3])],
                     [h.make_tensor_value_info("s", T.FLOAT, ["batch", 8]),
                      h.make_tensor_value_info("oh", T.FLOAT, ["batch", 3, 4]),
                      h.make_tensor_value_info("idx_out", T.INT64, ["batch", 3])],
                     initializer=[nh.from_array(np.array(0.5, np.float32), "half"),
                                  nh.from_array(np.array(4, np.int64), "depth"),
                                  nh.from_array(np.array([0, 1], np.float32), "vals")])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_rewrite_replaces_only_targets_and_drops_baked_constants():
    model = _model()
    original = model.SerializeToString()
    out = rewrite(model, [Replacement(1, "onehot", "tpat_onehot", ("idx",), ("oh",), ("depth", "vals"))])
    assert model.SerializeToString() == original, "the caller's model must not change"
    onnx.checker.check_model(out)
    assert [n.name for n in out.graph.node] == ["mul", "onehot", "softmax", "keep_int64"]
    for i in (0, 2, 3):
        assert out.graph.node[i] == model.graph.node[i]
    plugin = out.graph.node[1]
    assert (plugin.op_type, plugin.domain, list(plugin.input), list(plugin.output)) == (
        "tpat_onehot", PLUGIN_DOMAIN, ["idx"], ["oh"])
    assert {a.name: a.s for a in plugin.attribute} == {"plugin_version": b"1", "plugin_namespace": b""}
    assert [i.name for i in out.graph.initializer] == ["half"], "orphaned baked-in constants are removed"
    assert any(o.domain == PLUGIN_DOMAIN for o in out.opset_import)
    assert out.graph.output[2].type.tensor_type.elem_type == T.INT64, "int64 is kept, never narrowed"
    assert list(out.graph.input) == list(model.graph.input)


def test_shared_constants_stay():
    model = _model()
    model.graph.node[0].input[1] = "vals"  # `vals` now also feeds Mul: must survive
    model.graph.initializer[2].CopyFrom(nh.from_array(np.array([0.5], np.float32), "vals"))
    out = rewrite(model, [Replacement(1, "onehot", "tpat_onehot", ("idx",), ("oh",), ("depth", "vals"))])
    assert sorted(i.name for i in out.graph.initializer) == ["half", "vals"]
