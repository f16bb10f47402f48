"""`tpat inspect`: support table, per-node restrictions, graph I/O, the config snippet, text and JSON output."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tpat import trt_support
from tpat.cli.main import main
from tpat.errors import ModelError
from tpat.inspect import describe, inspect_model
from tpat.spec import load_spec, resolve_spec
from tpat.graph.selection import select_targets


def _model(nodes, inputs, outputs, inits=(), domains=()) -> onnx.ModelProto:
    graph = h.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    opsets = [h.make_opsetid("", 17)] + [h.make_opsetid(d, 1) for d in domains]
    model = h.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def _mixed() -> onnx.ModelProto:
    """Two OneHots (native), a ScatterND with reduction=add (not), a Unique (never), and a Relu."""
    vi = h.make_tensor_value_info
    return _model(
        [h.make_node("OneHot", ["ids", "depth", "vals"], ["oh"], name="oh_0", axis=-1),
         h.make_node("OneHot", ["ids", "depth", "vals"], ["oh2"], name="oh_1", axis=-1),
         h.make_node("ScatterND", ["data", "idx", "upd"], ["sc"], name="scatter_add", reduction="add"),
         h.make_node("ScatterND", ["sc", "idx", "upd"], ["sc2"], name="scatter_plain"),
         h.make_node("Unique", ["flat"], ["uniq"], name="uniq_0"),
         h.make_node("Relu", ["sc2"], ["y"], name="relu_0")],
        [vi("ids", T.INT64, [0, 4]), vi("data", T.FLOAT, ["N", 8]), vi("idx", T.INT64, ["N", 1]),
         vi("upd", T.FLOAT, ["N", 8]), vi("flat", T.FLOAT, [3, "L"])],
        [vi("oh", T.FLOAT, [None, 4, 10]), vi("oh2", T.FLOAT, [None, 4, 10]), vi("y", T.FLOAT, ["N", 8]),
         vi("uniq", T.FLOAT, [None])],
        [nh.from_array(np.array(10, np.int64), "depth"), nh.from_array(np.array([0, 1], np.float32), "vals")],
    )


def test_table_lists_doc_statuses():
    assert trt_support.lookup("Softmax").native
    one_hot = trt_support.lookup("OneHot")
    assert one_hot.native and "depth" in one_hot.note
    assert "reduction" in trt_support.lookup("ScatterND").note
    assert not trt_support.lookup("Unique").native and trt_support.lookup("Unique").listed
    missing = trt_support.lookup("NotAnOnnxOp")
    assert not missing.native and not missing.listed
    assert not trt_support.lookup("Softmax", "com.microsoft").native
    assert not (trt_support.SUPPORTED & trt_support.UNSUPPORTED)
    assert set(trt_support.RESTRICTIONS) <= trt_support.SUPPORTED | trt_support.UNSUPPORTED


def test_op_counts_and_support():
    ops = {o.op_type: o for o in describe(_mixed()).ops}
    assert [(o.op_type, o.count) for o in describe(_mixed()).ops] == [
        ("OneHot", 2), ("Relu", 1), ("ScatterND", 2), ("Unique", 1)]
    assert ops["OneHot"].trt == "supported" and ops["OneHot"].domain == "ai.onnx"
    assert ops["ScatterND"].trt == "partial"
    assert ops["ScatterND"].plugin_nodes == ("scatter_add",) and "reduction='add'" in ops["ScatterND"].reasons[0]
    assert ops["Unique"].trt == "unsupported" and ops["Unique"].plugin_nodes == ("uniq_0",)


def test_onehot_with_runtime_depth_is_unsupported():
    vi = h.make_tensor_value_info
    m = _model([h.make_node("OneHot", ["ids", "depth", "vals"], ["y"], name="oh")],
               [vi("ids", T.INT64, [2]), vi("depth", T.INT64, []), vi("vals", T.FLOAT, [2])],
               [vi("y", T.FLOAT, [2, None])])
    (op,) = describe(m).ops
    assert op.trt == "unsupported" and "run time" in op.reasons[0]


def test_custom_domain_is_unsupported():
    vi = h.make_tensor_value_info
    m = _model([h.make_node("FastGelu", ["x"], ["y"], name="g", domain="com.microsoft")],
               [vi("x", T.FLOAT, [2])], [vi("y", T.FLOAT, [2])], domains=["com.microsoft"])
    (op,) = describe(m).ops
    assert (op.domain, op.trt) == ("com.microsoft", "unsupported")


def test_inputs_outputs_and_dynamic_dims():
    r = describe(_mixed())
    ins = {t.name: t for t in r.inputs}
    assert ins["ids"].dtype == "int64" and ins["ids"].shape_text() == "[0,4]"
    assert ins["data"].shape == ("N", 8) and ins["data"].dtype == "float32"
    assert "depth" not in ins  # initializers are not inputs
    assert {t.name: t.shape_text() for t in r.outputs}["uniq"] == "[?]"
    dims = {d.name: d for d in r.dynamic}
    assert dims["batch"].batch and dims["batch"].inputs == ("ids",)  # TPAT's 0-on-axis-0 convention
    assert dims["N"].batch and not dims["L"].batch


def test_config_snippet_is_a_valid_spec_that_selects(tmp_path):
    model = _mixed()
    onnx.save(model, tmp_path / "m.onnx")
    report = inspect_model(tmp_path / "m.onnx")
    (tmp_path / "config.yaml").write_text(report.config.replace(str(tmp_path / "m.onnx"), "m.onnx"))
    (m,) = resolve_spec(load_spec(tmp_path / "config.yaml")).models
    assert m.targets.op_types == ("Unique",) and m.targets.nodes == ("scatter_add",)
    assert set(m.dynamic) == {"batch", "N", "L"} and m.dynamic["batch"].max == 256
    picked = select_targets(model.graph, m.targets.nodes, m.targets.op_types)
    assert {t.node_name for t in picked} == {"uniq_0", "scatter_add"}


def test_config_snippet_without_unsupported_ops_is_a_commented_hint():
    vi = h.make_tensor_value_info
    m = _model([h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", T.FLOAT, [3])], [vi("y", T.FLOAT, [3])])
    cfg = describe(m, "m.onnx").config
    assert "# op_types:" in cfg and "\n      op_types" not in cfg and "dynamic" not in cfg


def test_cli_text_is_one_fact_per_line(tmp_path, capsys):
    onnx.save(_mixed(), tmp_path / "m.onnx")
    assert main(["inspect", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "op OneHot count=2 domain=ai.onnx trt=supported note=\"depth must be a build-time constant\"" in out
    assert "op Unique count=1 domain=ai.onnx trt=unsupported" in out
    assert any(line.startswith("node scatter_add op=ScatterND trt=unsupported reason=") for line in out)
    assert "input data dtype=float32 shape=[N,8]" in out
    assert "output y dtype=float32 shape=[N,8]" in out
    assert any(line.startswith("summary nodes=6 op_types=4 needs_plugin=2") for line in out)
    assert "# ---- config.yaml" in out and "version: 1" in out


def test_cli_json(tmp_path, capsys):
    onnx.save(_mixed(), tmp_path / "m.onnx")
    assert main(["inspect", "--json", str(tmp_path / "m.onnx")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {o["op_type"]: o["trt"] for o in data["ops"]}["ScatterND"] == "partial"
    assert data["inputs"][0] == {"name": "ids", "dtype": "int64", "shape": [0, 4]}
    assert data["trt_source"]["commit"] == trt_support.SOURCE[2] and data["config"].startswith("# tpat config")


@pytest.mark.parametrize("content", [None, b"not an onnx model"])
def test_missing_or_corrupt_model(tmp_path, capsys, content):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError):
        inspect_model(path)
    assert main(["inspect", str(path)]) == 1
    assert "error:" in capsys.readouterr().err
