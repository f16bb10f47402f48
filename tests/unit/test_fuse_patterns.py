"""Fusion by pattern: op-type chains and small DAGs matched everywhere, each match one fused group, identical
matches one plugin (constants that differ between layers stay plugin inputs)."""

from __future__ import annotations

import onnx
import pytest
from onnx import helper as h

import encoder_models
import op_models
from tpat.errors import SelectionError
from tpat.graph.links import NodeLinks
from tpat.graph.patterns import PatternError, find_matches, parse_pattern
from tpat.graph.selection import select_targets
from tpat.planner import build_task_graph
from tpat.spec.origin import SpecError
from tpat.workflow import load_resolved
from workflow_helpers import write_spec

LN = ["Add", "LayerNormalization"]
SOFTMAX = ["Div?", "Add", "Softmax"]


def _ops(graph, group):
    return [graph.node[i].op_type for i in group]


def test_chain_matches_in_every_layer():
    graph = encoder_models.encoder(layers=3).graph
    targets = select_targets(graph, fuse_patterns=[parse_pattern(LN)])
    assert len(targets) == 6  # two Add+LayerNorm per layer
    assert {t.op_type for t in targets} == {"Add+LayerNormalization"}
    assert all(graph.node[t.group[0]].name.endswith("Add_residual") for t in targets)


def test_optional_node_is_taken_when_present():
    graph = encoder_models.encoder(layers=2).graph
    (p,) = [parse_pattern(SOFTMAX)]
    targets = select_targets(graph, fuse_patterns=[p])
    assert [t.op_type for t in targets] == ["Div+Add+Softmax"] * 2
    no_div = parse_pattern(["Mul?", "Add", "Softmax"])  # no Mul feeds the mask Add: the short variant matches
    assert [t.op_type for t in select_targets(graph, fuse_patterns=[no_div])] == ["Add+Softmax"] * 2


def test_dag_pattern_matches_hf_gelu_and_chain_matches_torch_gelu():
    hf = encoder_models.encoder(layers=2, gelu="hf").graph
    targets = select_targets(hf, fuse_patterns=[parse_pattern(encoder_models.GELU_DAG)])
    assert [sorted(_ops(hf, t.group)) for t in targets] == [["Add", "Div", "Erf", "Mul", "Mul"]] * 2
    assert select_targets(hf, node_types=["Softmax"], fuse_patterns=[parse_pattern(encoder_models.GELU_CHAIN)]) \
        and not [t for t in select_targets(hf, node_types=["Softmax"],
                                           fuse_patterns=[parse_pattern(encoder_models.GELU_CHAIN)]) if t.group]
    chain = encoder_models.encoder(layers=2, gelu="chain").graph
    targets = select_targets(chain, fuse_patterns=[parse_pattern(encoder_models.GELU_CHAIN)])
    assert [_ops(chain, t.group) for t in targets] == [encoder_models.GELU_CHAIN] * 2


def test_matches_never_share_a_node_and_named_groups_come_first():
    graph = encoder_models.encoder(layers=1).graph
    names = [n.name for n in graph.node]
    first_ln = [names.index("/encoder/layer.0/attention/output/Add"),
                names.index("/encoder/layer.0/attention/output/Add_residual")]
    targets = select_targets(graph, fuse=[[names[i] for i in first_ln]],
                             fuse_patterns=[parse_pattern(LN), parse_pattern(["Add", "Add"])])
    groups = [t.group for t in targets]
    assert tuple(first_ln) in groups
    assert len({i for g in groups for i in g}) == sum(len(g) for g in groups)
    # the first LayerNorm's Add went to the named group: the pattern matched only the second one
    assert sum(t.op_type == "Add+LayerNormalization" for t in targets) == 1


def test_non_convex_match_is_refused_naming_the_node():
    m = op_models.masked_softmax_chain()
    m.graph.node.append(h.make_node("Add", ["side", "probs"], ["z"], name="rejoin"))
    m.graph.output.append(op_models._vi("z", onnx.TensorProto.FLOAT, ["batch", 4, 128]))
    p = parse_pattern({"a": "Add", "s": "Softmax(a)", "r": "Add(s)"})
    with pytest.raises(SelectionError, match=r"through node 'side_use' \(Relu\) and comes back"):
        select_targets(m.graph, fuse_patterns=[p])


def test_named_group_refusal_names_the_node_too():
    m = op_models.masked_softmax_chain()
    m.graph.node.append(h.make_node("Add", ["side", "probs"], ["z"], name="rejoin"))
    m.graph.output.append(op_models._vi("z", onnx.TensorProto.FLOAT, ["batch", 4, 128]))
    with pytest.raises(SelectionError, match="depend on itself: a path leaves it through node 'side_use'"):
        select_targets(m.graph, fuse=[["add_mask", "softmax", "rejoin"]])


def test_no_match_is_explained():
    with pytest.raises(SelectionError, match=r"no fuse pattern matched: \[Gelu, Add\]"):
        select_targets(encoder_models.encoder(1).graph, fuse_patterns=[parse_pattern(["Gelu", "Add"])])


@pytest.mark.parametrize("entry, error", [
    (["Add"], "has 1 nodes"),
    (["Add", "Soft max"], "cannot read 'Soft max'"),
    (["Add", "Softmax(n0)"], "names feeders inside a chain"),
    ({"a": "Add", "b": "Softmax(c)"}, "fed by 'c'"),
    ({"a": "Add", "b": "Softmax"}, "not connected"),
])
def test_bad_patterns_are_explained(entry, error):
    with pytest.raises(PatternError, match=error):
        parse_pattern(entry)


def test_spec_reports_a_bad_pattern_where_it_is(tmp_path):
    spec = write_spec(tmp_path, {"m.onnx": encoder_models.encoder(1)},
                      {"fuse_patterns": [["Add", "LayerNormalization"], ["Add"]]}, tmp_path / "cache")
    with pytest.raises(SpecError, match=r"spec.yaml:\d+:\d+.*has 1 nodes"):
        load_resolved(spec)


def test_matching_grows_from_links_not_scans():
    """Work per start node is bounded by its neighbours: a model with many unrelated nodes costs nothing more."""
    graph = encoder_models.encoder(layers=2).graph
    links = NodeLinks(graph.node)
    calls = []
    real = links.producers_of

    def counting(i):
        calls.append(i)
        return real(i)

    links.producers_of = counting
    find_matches(links, [parse_pattern(LN)])
    assert len(calls) == len(links.by_op["LayerNormalization"])


def test_twelve_layers_share_one_plugin_per_pattern(tmp_path):
    """BERT-like: 12 layers, three patterns -> three plugins (gamma/beta differ per layer: plugin inputs)."""
    model = encoder_models.encoder(layers=12)
    spec = write_spec(tmp_path, {"enc.onnx": model},
                      {"fuse_patterns": [LN, SOFTMAX, encoder_models.GELU_DAG]}, tmp_path / "cache",
                      defaults={"dynamic": {"batch": {"min": 1, "opt": 4, "max": 8},
                                            "seq": {"min": 1, "opt": 16, "max": 32}}})
    plan = build_task_graph(load_resolved(spec), tmp_path / "trt_plugin", "10.14")
    (mp,) = plan.models
    assert mp.error is None, mp.error
    assert len(mp.nodes) == 12 * 4
    assert sorted(p.op_type for p in plan.plugins.values()) == ["Add+LayerNormalization", "Div+Add+Softmax",
                                                                "Mul+Div+Erf+Add+Mul"]
    ln = next(p for p in plan.plugins.values() if p.op_type == "Add+LayerNormalization")
    assert len(ln.nodes) == 24
    assert len(ln.signature.inputs) == 4, "two activations, gamma and beta: passed in, they differ per layer"
    gelu = next(p for p in plan.plugins.values() if p.op_type.startswith("Mul+Div"))
    assert len(gelu.signature.inputs) == 1, "0.5, sqrt(2) and 1 are the same in every layer: baked in"
    assert {n.folded for n in gelu.nodes} == {("half", "sqrt2", "one")}
