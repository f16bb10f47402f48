"""Models with external data: planned without loading their weights, rewritten with the weights still external,
in a data file beside the output (located relative to it), the input's files untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.external_data_helper import uses_external_data

import external_models as em
import op_models
import tpat
from tpat.errors import TpatError
from tpat.ir import expr as E
from tpat.planner import build_task_graph
from tpat.stages.rewrite import PLUGIN_DOMAIN
from tpat.workflow import load_resolved

BATCH = {"dynamic_bs": True, "min_bs": 1, "max_bs": 64, "opt_bs": 8}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _locations(model: onnx.ModelProto) -> dict[str, tuple[str, ...]]:
    return {t.name: tuple(e.value for e in t.external_data if e.key == "location")
            for t in model.graph.initializer}


def _plan(folder: Path, model_file: str, targets: dict):
    import yaml

    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump({"version": 1, "output_dir": "out", "cache_dir": str(folder / "cache"),
                                    "defaults": {"dynamic": {"batch": {"min": 1, "opt": 8, "max": 64}}},
                                    "models": [{"path": model_file, "targets": targets}]}))
    plan = build_task_graph(load_resolved(spec), folder / "trt_plugin", None)
    (mp,) = plan.models
    assert mp.error is None, mp.error
    return plan


def test_planning_reads_the_constants_it_needs_from_the_data_file(tmp_path):
    """The Reshape's shape is in the data file (shape inference needs it); the small bias is baked into the Add
    plugin with its values from the data file."""
    src = em.small_external_model(tmp_path / "in" / "m.onnx", external_shape=True)
    before = _digests(src.parent)
    plan = _plan(tmp_path, "in/m.onnx", {"op_types": ["Erf"], "nodes": ["add_bias"]})
    erf, add = plan.plugins["tpat_erf"], plan.plugins["tpat_add_bias"]
    assert erf.signature.inputs[0].shape == (E.Dim(0, "batch"), 4, 16)
    sub = onnx.load_from_string(add.subgraph)
    (baked,) = sub.graph.initializer
    np.testing.assert_array_equal(nh.to_array(baked), np.arange(64, dtype=np.float32).reshape(4, 16) / 64)
    assert add.nodes[0].folded == ("bias",)
    assert _digests(src.parent) == before


@pytest.mark.slow
def test_a_weight_over_2gb_is_never_read_and_becomes_a_plugin_input(tmp_path):
    """A 2.5 GB weight (a sparse file) feeding the target: planned from its dims alone. Before, the whole model was
    loaded into memory and refused: onnx.checker on a proto over 2 GB."""
    n = 640 << 20  # floats
    folder = tmp_path / "in"
    folder.mkdir()
    node = h.make_node("Einsum", ["x", "w"], ["y"], name="es", equation="bi,i->b")
    weight = em.zero_weight(folder, "w", (n,), "w.bin")
    graph = h.make_graph([node], "g", [op_models._vi("x", T.FLOAT, ["batch", n])],
                         [op_models._vi("y", T.FLOAT, ["batch"])], initializer=[weight])
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), str(folder / "m.onnx"))
    plan = _plan(tmp_path, "in/m.onnx", {"op_types": ["Einsum"]})
    (p,) = plan.plugins.values()
    assert p.nodes[0].inputs == ("x", "w") and p.nodes[0].folded == ()
    assert p.signature.inputs[1].shape == (n,)


def _ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def with_nodes_restored(out_path: Path, source: onnx.ModelProto, name: str) -> Path:
    """The rewritten model with its plugin nodes swapped back for the source's nodes, saved beside it (so its
    external data resolves as the rewritten model's does): onnxruntime runs it on the rewritten model's data."""
    out = onnx.load(str(out_path), load_external_data=False)
    originals = {n.name: n for n in source.graph.node}
    for n in out.graph.node:
        if n.domain == PLUGIN_DOMAIN:
            n.CopyFrom(originals[n.name])
    path = out_path.with_name(name)
    onnx.save(out, str(path))
    return path


def test_rewritten_model_keeps_external_data_beside_it(tmp_path):
    src = em.small_external_model(tmp_path / "in" / "m.onnx")
    before = _digests(src.parent)
    out = tmp_path / "elsewhere" / "m.tpat.onnx"
    tpat.onnx2plugin(src, out, node_types=["Erf"], validate="never", **BATCH)
    assert _digests(src.parent) == before, "the input model and its data file are never touched"

    written = onnx.load(str(out), load_external_data=False)
    assert [n.op_type for n in written.graph.node] == ["MatMul", "Reshape", "tpat_erf", "Add"]
    assert _locations(written) == {"W": ("m.tpat.onnx.data",), "bias": ("m.tpat.onnx.data",), "shape": ()}
    assert all(uses_external_data(t) for t in written.graph.initializer if t.name != "shape")
    assert out.with_name("m.tpat.onnx.data").stat().st_size >= 64 * 64 * 4 + 4 * 16 * 4
    onnx.checker.check_model(str(out), full_check=True)

    x = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    restored = with_nodes_restored(out, onnx.load(str(src), load_external_data=False), "restored.onnx")
    np.testing.assert_array_equal(_ort_run(restored, x), _ort_run(src, x))


def test_an_output_over_the_inputs_data_file_is_refused(tmp_path):
    src = em.small_external_model(tmp_path / "m.onnx")
    before = _digests(tmp_path)
    with pytest.raises(TpatError, match="would overwrite a data file of the input model") as e:
        tpat.onnx2plugin(src, src.with_name(src.name + ".data"), node_types=["Erf"], validate="never", **BATCH)
    assert "another folder or under another name" in str(e.value)
    assert _digests(tmp_path) == before


def test_data_outside_the_models_folder_is_refused(tmp_path):
    src = em.small_external_model(tmp_path / "in" / "m.onnx")
    model = onnx.load(str(src), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../m.onnx.data"
    (tmp_path / "in" / "m.onnx.data").rename(tmp_path / "m.onnx.data")
    onnx.save(model, str(src))
    with pytest.raises(TpatError, match="fails onnx.checker|not a file in"):
        tpat.onnx2plugin(src, tmp_path / "out" / "m.tpat.onnx", node_types=["Erf"], validate="never", **BATCH)


def _stats(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_a_model_over_2gb_converts_end_to_end(tmp_path):
    """2.25 GiB of embedding tables in external data plus one Erf target: planned, built, rewritten with the tables
    copied (never loaded) beside the output; the output passes onnx.checker by path and onnxruntime computes
    the same as on the input. Before: refused ("fails onnx.checker"), after loading all 2.25 GiB."""
    src = em.big_gather_model(tmp_path / "in" / "big.onnx")
    assert src.with_name("big.onnx.data").stat().st_size > 2**31
    before = _stats(src.parent)
    out = tmp_path / "out" / "big.tpat.onnx"
    result = tpat.onnx2plugin(src, out, node_types=["Erf"], validate="never", **BATCH)
    (plugin,) = result.plugins
    assert plugin.op_type == "Erf" and plugin.files["kernels_library"].is_file()
    assert _stats(src.parent) == before, "the input model and its data file are never touched"

    written = onnx.load(str(out), load_external_data=False)
    assert [n.op_type for n in written.graph.node if n.domain == PLUGIN_DOMAIN] == ["tpat_erf"]
    assert _locations(written) == {f"table{k}": ("big.tpat.onnx.data",) for k in range(3)}
    assert out.stat().st_size < 4096 and out.with_name("big.tpat.onnx.data").stat().st_size >= 3 * (768 << 20)
    onnx.checker.check_model(str(out))

    import onnxruntime as ort

    rng = np.random.default_rng(2)
    feed = {"x": rng.standard_normal((4, 64)).astype(np.float32),
            "idx": np.array([0, 996, 123457, em.BIG_ROWS - 1], np.int64)}
    restored = with_nodes_restored(out, onnx.load(str(src), load_external_data=False), "restored.onnx")
    results = []
    for path in (src, restored):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        results.append(sess.run(None, feed)[0])
        del sess
    np.testing.assert_array_equal(results[1], results[0])
    expected = sum(em.big_table(k)[[0, 996, 123457, em.BIG_ROWS - 1]] for k in range(3))
    np.testing.assert_allclose(results[0] - _ort_erf(feed["x"]), expected, rtol=1e-6, atol=1e-5)


def _ort_erf(x: np.ndarray) -> np.ndarray:
    import math

    return np.vectorize(math.erf)(x.astype(np.float64)).astype(np.float32)


def test_an_unwritable_output_is_a_tpat_error(tmp_path):
    src = em.small_external_model(tmp_path / "in" / "m.onnx")
    (tmp_path / "taken").write_text("a file where the output folder should be")
    with pytest.raises(TpatError, match="cannot be created: .*taken' is a file"):  # found while planning
        tpat.onnx2plugin(src, tmp_path / "taken" / "m.tpat.onnx", node_types=["Erf"], validate="never",
                         plugin_dir=tmp_path / "trt_plugin", **BATCH)
    (tmp_path / "out" / "m.tpat.onnx.data" / "busy").mkdir(parents=True)  # the data file's place is taken
    with pytest.raises(TpatError, match="cannot write .*m.tpat.onnx.data") as e:
        tpat.onnx2plugin(src, tmp_path / "out" / "m.tpat.onnx", node_types=["Erf"], validate="never",
                         plugin_dir=tmp_path / "trt_plugin", **BATCH)
    assert "must be writable" in str(e.value)
    assert not (tmp_path / "out" / "m.tpat.onnx").exists(), "no model naming a data file that was not written"
