"""Builtin examples and recipes: each model builds deterministically, passes onnx.checker, runs in onnxruntime at
two batch sizes, and each recipe.yaml loads and selects nodes that exist in its model."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tpat.errors import TpatError
from tpat.examples import BUILTIN, write_builtin
from tpat.spec import load_spec, resolve_spec
from tpat.graph.selection import select_targets

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
RECIPES = sorted(p.name for p in RECIPES_DIR.iterdir() if (p / "recipe.yaml").is_file())  # numpy + onnx only
TORCH_RECIPES = sorted(p.name for p in RECIPES_DIR.iterdir() if (p / "spec.yaml").is_file())  # from PyTorch
BATCHES = (1, 4)
_NP = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.INT64: np.int64}


def _recipe_module(name: str):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES_DIR / name / "make_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _feeds(model: onnx.ModelProto, batch: int, rng) -> dict[str, np.ndarray]:
    """Random inputs with valid indices: int64 inputs index their model's axis (ids < 1000, graph nodes < 256)."""
    feeds = {}
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        shape = [batch if d.dim_param else d.dim_value for d in tt.shape.dim]
        if tt.elem_type == onnx.TensorProto.INT64:
            high = {"sparse_ids": 1000, "edge_index": 256}[vi.name]
            feeds[vi.name] = rng.integers(0, high, shape).astype(np.int64)
        elif vi.name == "attention_mask":
            feeds[vi.name] = np.where(rng.random(shape) < 0.25, -10000.0, 0.0).astype(np.float32)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(_NP[tt.elem_type])
    return feeds


def _check_runs(model: onnx.ModelProto) -> dict[int, list[np.ndarray]]:
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = {}
    for batch in BATCHES:
        feeds = _feeds(model, batch, np.random.default_rng(batch))
        outs = session.run(None, feeds)
        for o in outs:
            assert o.shape[0] == batch and np.isfinite(o).all()
        results[batch] = (feeds, outs)
    return results


def _has_batch_dim(model: onnx.ModelProto) -> bool:
    return all(vi.type.tensor_type.shape.dim[0].dim_param == "batch" for vi in model.graph.input)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_builds_and_runs(name):
    model = BUILTIN[name]()
    assert model.SerializeToString() == BUILTIN[name]().SerializeToString()  # deterministic bytes
    assert _has_batch_dim(model) and model.opset_import[0].version == 17
    _check_runs(model)


def test_example_has_one_softmax_and_one_erf_among_native_ops():
    ops = [n.op_type for n in BUILTIN["example"]().graph.node]
    assert sorted(ops) == ["Add", "Erf", "Mul", "Softmax"]


def test_write_builtin(tmp_path):
    path = write_builtin("example", tmp_path / "sub" / "example.onnx")
    assert path.read_bytes() == BUILTIN["example"]().SerializeToString()
    assert [p.name for p in path.parent.iterdir()] == ["example.onnx"]  # no temp file left behind
    with pytest.raises(TpatError, match="no builtin model named 'nope'"):
        write_builtin("nope", tmp_path / "x.onnx")


def test_at_least_three_recipes():
    assert {"bert_attention_softmax", "dlrm_onehot", "gnn_scatternd"} <= set(RECIPES)
    for name in RECIPES:
        assert {"make_model.py", "recipe.yaml", "README.md"} <= {p.name for p in (RECIPES_DIR / name).iterdir()}


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_model_builds_and_runs(name):
    model = _recipe_module(name).build()
    assert _has_batch_dim(model)
    assert sum(t.ByteSize() for t in model.graph.initializer) < 8 * 2**20  # constants stay small
    _check_runs(model)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_yaml_loads_and_selects(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(RECIPES_DIR / name, folder, ignore=shutil.ignore_patterns("model.onnx", "tpat_out"))
    proc = subprocess.run([sys.executable, str(folder / "make_model.py")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    again = tmp_path / "again.onnx"
    subprocess.run([sys.executable, str(folder / "make_model.py"), str(again)], check=True, capture_output=True)
    assert again.read_bytes() == (folder / "model.onnx").read_bytes()  # deterministic across runs

    (m,) = resolve_spec(load_spec(folder / "recipe.yaml")).models
    assert m.source == folder / "model.onnx" and m.arch == ("sm_90",) and "batch" in m.dynamic
    graph = onnx.load(str(m.source)).graph
    targets = select_targets(graph, m.targets.nodes, m.targets.op_types, dict(m.targets.plugin_names),
                             m.targets.fuse)
    assert targets and all(t.node_name for t in targets)
    # every target plans: each dim its plugin sees is a number or a declared dim (a GNN's index count built from
    # the batch through Range is `batch`, not an unnamed dim of ONNX's shape inference)
    from tpat.cli.main import main

    assert main(["plan", str(folder / "recipe.yaml")]) == 0


def test_bert_recipe_fuses_mask_add_and_softmax_as_bert_softmax(tmp_path):
    module = _recipe_module("bert_attention_softmax")
    graph = module.build().graph
    folder = tmp_path / "r"
    shutil.copytree(RECIPES_DIR / "bert_attention_softmax", folder, ignore=shutil.ignore_patterns("*.onnx"))
    onnx.save(module.build(), folder / "model.onnx")
    (m,) = resolve_spec(load_spec(folder / "recipe.yaml")).models
    (t,) = select_targets(graph, m.targets.nodes, m.targets.op_types, dict(m.targets.plugin_names),
                          m.targets.fuse)
    assert (t.node_name, t.op_type, t.plugin_name) == (module.SOFTMAX_NODE, "Add+Softmax", "bert_softmax")
    assert len(t.group) == 2


def test_gnn_recipe_matches_numpy_scatter_add():
    """The in-graph (graph, dst) index construction must aggregate within each graph of the batch."""
    module = _recipe_module("gnn_scatternd")
    model = module.build()
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, module.NODES, module.FEATS)).astype(np.float32)
    edges = rng.integers(0, module.NODES, (3, module.EDGES, 2))
    (got,) = session.run(None, {"x": x, "edge_index": edges})
    agg = x.copy()
    for b in range(3):
        np.add.at(agg[b], edges[b, :, 1], x[b, edges[b, :, 0]] * inits["message.gate"])
    want = np.maximum(agg @ inits["update.weight"] + inits["update.bias"], 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_dlrm_recipe_targets_onehot():
    graph = _recipe_module("dlrm_onehot").build().graph
    (t,) = select_targets(graph, node_types=["OneHot"])
    assert t.node_name == "sparse/OneHot"


def test_torch_recipes_have_a_spec_a_builder_and_a_readme():
    assert {"bert_encoder", "vit_block", "gnn_layer", "dlrm_interaction"} <= set(TORCH_RECIPES)
    for name in TORCH_RECIPES:
        assert {"make_model.py", "spec.yaml"} <= {p.name for p in (RECIPES_DIR / name).iterdir()}
