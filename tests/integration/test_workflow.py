"""The declarative workflow: plan DAG, plugin reuse, cache hits, resume, concurrency, manifest, batch failures."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tpat.errors import TpatError
from tpat.trt.headers import HOW_TO_GET, find_headers
from tpat.workflow import apply_spec
from workflow_helpers import erf_model, tpat_cli, write_spec

ERF = {"op_types": ["Erf"]}


def _entries(cache: Path, stage: str) -> list[Path]:
    return sorted(cache.glob(f"{stage}/*/*/entry.json"))


def test_plan_dag_and_reuse_across_models(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(32, name="other"),
                                       "c.onnx": erf_model(48)}, ERF, cache)
    proc = tpat_cli("plan", str(spec), "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert list(plan["plugins"]) == ["tpat_erf", "tpat_erf_2"], "identical subgraphs merge; others get unique names"
    assert plan["summary"]["reused"] == {"tpat_erf": 2}
    stages = [[t["stage"] for t in p["tasks"]] for p in plan["plugins"].values()]
    assert stages == [["lower", "codegen", "build"]] * 2  # validate needs a GPU: not planned here
    assert all(t["status"] == "run (new)" for p in plan["plugins"].values() for t in p["tasks"])
    assert [n["plugin"] for m in plan["models"] for n in m["nodes"]] == ["tpat_erf", "tpat_erf", "tpat_erf_2"]
    text = tpat_cli("plan", str(spec)).stdout
    assert "plugin tpat_erf, serves 2 nodes" in text and "(reused)" in text


@pytest.mark.slow
def test_apply_then_reapply_runs_nothing_and_is_reproducible(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(32, name="e2")}, ERF, cache)
    first = apply_spec(spec, progress=False)
    assert not first.failed_models and len(first.ran) == 3
    out = tmp_path / "w" / "out"
    manifest = (out / "tpat.lock.yaml").read_bytes()
    sources = {p.name: p.read_bytes() for p in (out / "trt_plugin" / "src").iterdir()}
    second = apply_spec(spec, progress=False)
    assert second.ran == [] and len(second.cached) == 3, "a re-apply runs nothing: every task is a cache hit"
    assert (out / "tpat.lock.yaml").read_bytes() == manifest
    # cold again from scratch: same sources and manifest, byte for byte
    shutil.rmtree(cache)
    shutil.rmtree(out)
    third = apply_spec(spec, progress=False)
    assert len(third.ran) == 3
    assert (out / "tpat.lock.yaml").read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in (out / "trt_plugin" / "src").iterdir()} == sources
    data = yaml.safe_load(manifest)
    plugin = data["plugins"]["tpat_erf"]
    assert [n["model"] for n in plugin["nodes"]] == ["../a.onnx", "../b.onnx"]
    assert set(plugin["tasks"]) == {"lower", "codegen", "build"}
    assert any(k.endswith("libtpat_erf_kernels.so") for k in plugin["artifacts"])
    assert data["versions"]["tvm"] == "0.27.0.post1"
    run = yaml.safe_load((out / "tpat.run.yaml").read_text())
    assert "started" in run and "started" not in manifest.decode()


def test_frozen_detects_drift(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    with pytest.raises(TpatError, match="no manifest"):
        apply_spec(spec, frozen=True, progress=False)
    apply_spec(spec, progress=False)
    assert apply_spec(spec, frozen=True, progress=False).ran == []
    (tmp_path / "w" / "a.onnx").write_bytes(erf_model(40).SerializeToString())
    with pytest.raises(TpatError) as e:
        apply_spec(spec, frozen=True, progress=False)
    assert "model ../a.onnx changed" in str(e.value) and "tpat_erf lower: inputs changed (signature, subgraph)" in str(e.value)


def test_damaged_cache_entry_is_rebuilt(tmp_path, caplog):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    apply_spec(spec, progress=False)
    (codegen_entry,) = _entries(cache, "codegen")
    victim = next(p for p in codegen_entry.parent.iterdir() if p.suffix == ".cu")
    victim.write_text(victim.read_text() + "\n// tampered\n")
    result = apply_spec(spec, progress=False)
    assert ("tpat_erf", "codegen") in result.ran and ("tpat_erf", "lower") not in result.ran
    assert "damaged" in caplog.text
    assert "tampered" not in victim.read_text()


@pytest.mark.slow
def test_batch_of_ten_models_with_one_broken(tmp_path):
    cache = tmp_path / "cache"
    models = {f"m{i}.onnx": erf_model(16 * (1 + i % 3), name=f"erf{i}") for i in range(10)}
    models["m4.onnx"] = b"this is not an onnx file"
    spec = write_spec(tmp_path / "w", models, ERF, cache, jobs=2)
    proc = tpat_cli("apply", str(spec), "--no-progress")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = tmp_path / "w" / "out"
    written = sorted(p.name for p in out.glob("*.tpat.onnx"))
    assert written == [f"m{i}.tpat.onnx" for i in range(10) if i != 4]
    manifest = yaml.safe_load((out / "tpat.lock.yaml").read_text())
    status = {m["path"]: m["status"] for m in manifest["models"]}
    assert status["../m4.onnx"] == "failed" and sum(s == "ok" for s in status.values()) == 9
    assert "cannot read" in next(m for m in manifest["models"] if m["path"] == "../m4.onnx")["error"]
    assert "FAILED" in proc.stdout and "m4.onnx" in proc.stdout


@pytest.mark.slow
def test_killed_run_resumes_with_only_unfinished_tasks(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(16), "b.onnx": erf_model(24), "c.onnx": erf_model(40)},
                      ERF, cache)
    proc = subprocess.Popen([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not _entries(cache, "build"):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p.parent.name for stage in ("lower", "codegen", "build") for p in _entries(cache, stage)}
    assert done, "the first run should have finished at least one task before being killed"
    assert not (tmp_path / "w" / "out" / "tpat.lock.yaml").exists()
    result = apply_spec(spec, progress=False)
    rerun = {result.plan.plugins[n].tasks[s].key for n, s in result.ran}
    assert not (rerun & done), "tasks finished before the kill must not run again"
    assert len(rerun) + len(done) == 9
    assert not list((cache / "tmp").iterdir()) or all(p.is_dir() for p in (cache / "tmp").iterdir())


@pytest.mark.slow
def test_two_concurrent_applies_share_one_cache(tmp_path):
    cache = tmp_path / "cache"
    specs = [write_spec(tmp_path / f"w{i}", {"a.onnx": erf_model(32), "b.onnx": erf_model(56)}, ERF, cache)
             for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "tpat.cli", "apply", str(s), "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in specs]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    for stage in ("lower", "codegen", "build"):
        assert len(_entries(cache, stage)) == 2, f"one entry per plugin for {stage}"
    manifests = [(tmp_path / f"w{i}" / "out" / "tpat.lock.yaml").read_text() for i in range(2)]
    assert manifests[0] == manifests[1]


def test_check_trt_stage_after_rewrite(tmp_path):
    from tpat.trt.rtx_locate import bindings_available, find_rtx_libs

    try:
        available = find_rtx_libs() is not None and bindings_available()
    except Exception:  # noqa: BLE001 - any failure to locate TensorRT-RTX means: not here
        available = False
    if not available:
        pytest.skip("TensorRT-RTX (pip install -e '.[trt-rtx]') is not installed")
    if find_headers() is None:
        pytest.skip(f"no TensorRT headers to build the plugin library against: {HOW_TO_GET}")
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, tmp_path / "cache",
                      defaults={"check_trt": True})
    result = apply_spec(spec, progress=False)
    status = result.model_status[0]
    assert status.state == "ok", status.error
    assert status.trt_check["ok"] and status.trt_check["engine_bytes"] > 0
    manifest = yaml.safe_load((tmp_path / "w" / "out" / "tpat.lock.yaml").read_text())
    assert manifest["models"][0]["trt_check"]["ok"] is True
