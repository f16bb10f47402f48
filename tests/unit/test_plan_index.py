"""Planning indexes each model once, however many targets it has, and the extracted bytes stay what they were.

The subgraph bytes and signatures feed the task keys (the cache): the digests pinned here are what the extraction
produced before the model index existed (one graphsurgeon import per target), for the builtin example and for
fused groups. A change to them invalidates every user's cache and must be deliberate.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx_graphsurgeon as gs
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from tpat.planner import build_task_graph
from tpat.workflow import load_resolved
from workflow_helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]


def _plan(spec: Path, tmp_path: Path):
    plan = build_task_graph(load_resolved(spec), tmp_path / "trt_plugin", "10.14")
    for mp in plan.models:
        assert mp.error is None, mp.error
    return plan


def _sha(p) -> str:
    return hashlib.sha256(p.subgraph).hexdigest()


def test_a_model_is_imported_once_however_many_targets(tmp_path, monkeypatch):
    """40 Erf targets and a fused group: one graphsurgeon import of the model (was one per target, so planning
    grew with targets x model size: 3,000 targets took minutes)."""
    imports = []
    real = gs.import_onnx

    def counting(model, *args, **kwargs):
        imports.append(len(model.graph.node))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(gs, "import_onnx", counting)
    n = 40
    nodes = [h.make_node("Erf", [f"x{i}"], [f"y{i}"], name=f"erf_{i}") for i in range(n)]
    nodes += [h.make_node("Mul", ["x0", "y1"], ["m"], name="mul"), h.make_node("Softmax", ["m"], ["s"], name="sm")]
    inputs = [op_models._vi(f"x{i}", T.FLOAT, ["batch", 16]) for i in range(n)]
    outputs = [op_models._vi(f"y{i}", T.FLOAT, ["batch", 16]) for i in range(n)] + [op_models._vi("s", T.FLOAT,
                                                                                                    ["batch", 16])]
    model = h.make_model(h.make_graph(nodes, "many", inputs, outputs), opset_imports=[h.make_opsetid("", 17)])
    spec = write_spec(tmp_path, {"many.onnx": model},
                      {"op_types": ["Erf"], "fuse": [["mul", "sm"]]}, tmp_path / "cache")
    plan = _plan(spec, tmp_path)
    (mp,) = plan.models
    assert len(mp.nodes) == n + 1
    assert {p.op_type for p in plan.plugins.values()} == {"Erf", "Mul+Softmax"}
    assert imports == [len(nodes)], "the model is imported once, not once per target"


def test_builtin_example_subgraphs_are_pinned(tmp_path):
    plan = _plan(ROOT / "configs" / "example.yaml", tmp_path)
    assert {n: (p.op_type, _sha(p)) for n, p in plan.plugins.items()} == {
        "tpat_softmax_0": ("Softmax", "bfc1835aac9c3a49eb5275bf15ee238990947d5907c56af40010851c79930ce6"),
        "tpat_erf_0": ("Erf", "84af6a3e65074565a9f5ed78f3402f6e14e314d0e91faabcd5a0c8b81eb6788b"),
    }
    erf = plan.plugins["tpat_erf_0"]
    assert erf.signature.to_json()["dims"][0]["max"] == 256


def test_fused_group_subgraphs_are_pinned(tmp_path):
    model = op_models.masked_softmax_chain()
    three = write_spec(tmp_path / "three", {"m.onnx": model}, {"fuse": [["mul", "add_mask", "softmax"]]},
                       tmp_path / "cache")
    two = write_spec(tmp_path / "two", {"m.onnx": model}, {"op_types": ["Erf"], "fuse": [["add_mask", "softmax"]]},
                     tmp_path / "cache")
    got = {}
    for spec in (three, two):
        plan = _plan(spec, tmp_path)
        for p in plan.plugins.values():
            node = p.nodes[0]
            got[(spec.parent.name, p.op_type)] = (_sha(p), node.inputs, node.outputs, node.folded)
    assert got == {
        ("three", "Mul+Add+Softmax"): ("7e3066458f2fc8fd1856849b4478b4d0da492cfc01d6ef951aea88329bc48f8b",
                                       ("x", "mask"), ("masked", "probs"), ("scale",)),
        ("two", "Add+Softmax"): ("6ed15890f688b74d6cfb405cc205fe03d8aca2632e02e2d6c4a1391bd4994a26",
                                 ("scaled", "mask"), ("masked", "probs"), ()),
        ("two", "Erf"): ("c872904e349034a2e055abcb723538680360424cc6d32c91de1dad6c5fcca8b0", ("probs",), ("y",), ()),
    }
