"""Fused targets: several connected nodes become one plugin (TPAT converted single nodes only)."""

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from tpat.errors import SelectionError
from tpat.spec import DimRange
from tpat.stages.extract import extract, prepare_model
from tpat.stages.rewrite import Replacement, rewrite
from tpat.graph.selection import select_targets

BATCH = {"batch": DimRange(min=1, opt=8, max=64)}


def _model():
    return op_models.masked_softmax_chain()


def test_group_target_is_named_after_its_last_node():
    (t,) = select_targets(_model().graph, fuse=[["softmax", "add_mask"]])
    assert (t.node_name, t.op_type, t.plugin_name, t.group) == ("softmax", "Add+Softmax", "tpat_softmax", (1, 2))


def test_grouped_nodes_are_not_converted_twice():
    targets = select_targets(_model().graph, node_types=["Softmax", "Erf"], fuse=[["add_mask", "softmax"]])
    assert [(t.node_name, t.op_type) for t in targets] == [("softmax", "Add+Softmax"), ("erf", "Erf")]


@pytest.mark.parametrize("group, error", [
    (["mul", "erf"], "is not connected"),
    (["softmax"], "fewer than two"),
    (["add_mask", "sofmax"], "names no node 'sofmax'"),
])
def test_bad_groups_are_explained(group, error):
    with pytest.raises(SelectionError, match=error):
        select_targets(_model().graph, fuse=[group])


def test_a_group_that_would_depend_on_itself_is_refused():
    m = _model()
    m.graph.node.append(h.make_node("Add", ["side", "probs"], ["z"], name="rejoin"))
    m.graph.output.append(h.make_tensor_value_info("z", T.FLOAT, ["batch", 4, 128]))
    # add_mask -> side_use (outside) -> rejoin; fusing add_mask..rejoin without side_use would loop
    with pytest.raises(SelectionError, match="depend on itself"):
        select_targets(m.graph, fuse=[["add_mask", "softmax", "rejoin"]])


def test_extract_and_rewrite_a_group():
    model = prepare_model(_model(), BATCH)
    (t,) = select_targets(model.graph, fuse=[["mul", "add_mask", "softmax"]])
    ex = extract(model, t, BATCH)
    assert [n.op_type for n in ex.subgraph.graph.node] == ["Mul", "Add", "Softmax"]
    assert ex.input_names == ("x", "mask") and ex.folded_inputs == ("scale",)
    assert ex.output_names == ("masked", "probs"), "`masked` is also used outside the group"
    onnx.checker.check_model(ex.subgraph)
    out = rewrite(_model(), [Replacement(t.node_index, t.node_name, t.plugin_name, ex.input_names,
                                         ex.output_names, ex.folded_inputs,
                                         fused=tuple(i for i in t.indices if i != t.node_index))])
    assert [n.op_type for n in out.graph.node] == ["tpat_softmax", "Erf", "Relu"]
    assert list(out.graph.node[0].output) == ["masked", "probs"]
    assert [i.name for i in out.graph.initializer] == []
    onnx.checker.check_model(out)


def test_group_builds_end_to_end(tmp_path):
    import yaml

    from tpat.workflow import apply_spec

    onnx.save(_model(), tmp_path / "m.onnx")
    spec = {"version": 1, "output_dir": "out", "cache_dir": str(tmp_path / "cache"),
            "defaults": {"arch": ["sm_90"], "dynamic": {"batch": {"min": 1, "opt": 8, "max": 64}}},
            "models": [{"path": "m.onnx", "targets": {"fuse": [["add_mask", "softmax"]],
                                                      "plugins": {"softmax": "masked_softmax"}}}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = apply_spec(tmp_path / "spec.yaml", progress=False)
    assert not result.failed_models, result.model_status
    out = onnx.load(tmp_path / "out" / "m.tpat.onnx")
    assert [n.op_type for n in out.graph.node] == ["Mul", "masked_softmax", "Erf", "Relu"]
    assert result.plan.plugins["masked_softmax"].op_type == "Add+Softmax"
