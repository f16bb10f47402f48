import pytest
from onnx import TensorProto as T
from onnx import helper as h

from tpat.errors import SelectionError
from tpat.names import identifier
from tpat.graph.selection import orient_plugin_map, select_targets


def _graph(names_ops):
    nodes, prev = [], "x"
    for i, (name, op) in enumerate(names_ops):
        out = f"t{i}"
        nodes.append(h.make_node(op, [prev], [out], name=name))
        prev = out
    return h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
                        [h.make_tensor_value_info(prev, T.FLOAT, [2, 3])])


G = _graph([("erf_a", "Erf"), ("a/b::c", "Erf"), ("relu", "Relu"), ("", "Erf")])


def test_by_name_and_type_dedupes_and_keeps_graph_order():
    targets = select_targets(G, node_names=["a/b::c"], node_types=["Erf"])
    assert [t.node_index for t in targets] == [0, 1, 3]
    assert [t.plugin_name for t in targets] == ["tpat_erf_a", "tpat_a_b_c", "tpat_Erf_3"]


@pytest.mark.parametrize("mapping", [{"relu": "my_relu"}, {"my_relu": "relu"}])
def test_plugin_map_either_way_round(mapping):
    (t,) = select_targets(G, plugin_name_dict=mapping)
    assert (t.node_name, t.plugin_name) == ("relu", "my_relu")


def test_ambiguous_plugin_map_is_refused():
    with pytest.raises(SelectionError, match="ambiguous"):
        orient_plugin_map({"relu": "erf_a"}, ["relu", "erf_a"])


def test_plugin_map_naming_no_node():
    with pytest.raises(SelectionError, match="names no node"):
        select_targets(G, plugin_name_dict={"relux": "p"})


def test_unknown_name_suggests_close_match():
    with pytest.raises(SelectionError) as e:
        select_targets(G, node_names=["erf_b"])
    assert "no node named 'erf_b'" in str(e.value) and "erf_a" in str(e.value)


def test_unknown_type_lists_present_types():
    with pytest.raises(SelectionError, match="no node of op type 'OneHot'"):
        select_targets(G, node_types=["OneHot"])


def test_plugin_name_equal_to_op_type_is_refused():
    with pytest.raises(SelectionError, match="equals its op type"):
        select_targets(G, plugin_name_dict={"relu": "Relu"})


def test_duplicate_plugin_names_are_refused():
    with pytest.raises(SelectionError, match="would both become plugin"):
        select_targets(G, plugin_name_dict={"erf_a": "p x", "relu": "p_x"})


def test_nothing_selected():
    with pytest.raises(SelectionError, match="no node selected"):
        select_targets(G)


@pytest.mark.parametrize("hostile, expected", [
    ("a/b::c", "a_b_c"),
    ("../../x", "x"),
    ("my node 1", "my_node_1"),
    ("quote\"s'", "quote_s"),
    ("1abc", "_1abc"),
    ("class", "class_"),
    ("", "node"),
    ("ünïcode", "n_code"),
])
def test_identifiers_are_safe(hostile, expected):
    ident = identifier(hostile)
    assert ident == expected
    assert ident.isidentifier() and ident.isascii() and "/" not in ident


def test_long_names_are_bounded_and_distinct():
    a, b = identifier("x" * 300 + "a"), identifier("x" * 300 + "b")
    assert len(a) <= 96 and len(b) <= 96 and a != b
