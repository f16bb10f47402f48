"""Plugin names are distinct C identifiers whatever the node names, and no two plugins share an output file."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import tpat
from tpat.errors import SelectionError
from tpat.layout import file_names
from tpat.graph.selection import select_targets


def _erfs(names: list[str]) -> onnx.ModelProto:
    nodes = [h.make_node("Erf", [f"x{i}"], [f"y{i}"], name=n) for i, n in enumerate(names)]
    # a width per node: identical nodes would rightly share one plugin
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info(f"x{i}", T.FLOAT, [4, 8 + i]) for i in range(len(names))],
                         [h.make_tensor_value_info(f"y{i}", T.FLOAT, [4, 8 + i]) for i in range(len(names))])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_nodes_that_sanitise_alike_get_distinct_names():
    """`a/b`, `a_b` and `a.b` all sanitise to tpat_a_b: the node already named so keeps it, the others get a
    short hash of their own name (stable from run to run). They were refused before."""
    graph = _erfs(["a/b", "a_b", "a.b"]).graph
    names = [t.plugin_name for t in select_targets(graph, node_types=["Erf"])]
    assert names[1] == "tpat_a_b" and len(set(names)) == 3
    assert all(n.startswith("tpat_a_b_") and n.isidentifier() for n in (names[0], names[2]))
    assert names == [t.plugin_name for t in select_targets(graph, node_types=["Erf"])]


def test_no_plugin_writes_another_ones_files():
    """Nodes `a` and `a_kernels` once made plugins tpat_a and tpat_a_kernels: tpat_a_kernels.cu was both."""
    graph = _erfs(["a", "a_kernels", "b_kernels_v1"]).graph
    names = [t.plugin_name for t in select_targets(graph, node_types=["Erf"])]
    files = [set(file_names(n).values()) | {f"{n}_kernels_v1.cu", f"{n}_kernels_v2.cu"} for n in names]
    for i in range(len(files)):
        for j in range(i + 1, len(files)):
            assert not files[i] & files[j], (names[i], names[j], files[i] & files[j])
    with pytest.raises(SelectionError, match="ends like tpat's own file names"):
        select_targets(graph, plugin_name_dict={"a": "mine_kernels"})


@pytest.mark.slow
def test_all_three_convert_without_a_plugin_map(tmp_path):
    onnx.save(_erfs(["a/b", "a_b", "a.b", "a", "a_kernels"]), tmp_path / "m.onnx")
    result = tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o.onnx", node_types=["Erf"], validate="never")
    assert len({p.plugin for p in result.plugins}) == 5
    libs = sorted(p.name for p in (tmp_path / "trt_plugin" / "lib").glob("lib*_kernels.so"))
    assert len(libs) == 5
    out = onnx.load(str(tmp_path / "o.onnx"))
    assert len({n.op_type for n in out.graph.node}) == 5
