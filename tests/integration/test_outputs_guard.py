"""What a run may write: never the input model, only writable folders, never another spec's or run's outputs.

Every problem is found while planning (`tpat plan` reports it too) and before any task runs.
"""

from __future__ import annotations

import hashlib
import os

import onnx
import pytest
import yaml

from tpat.errors import TpatError
from workflow_helpers import erf_model, tpat_cli, write_spec

ERF = {"op_types": ["Erf"]}


def _snapshot(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mode


def test_output_equal_to_input_is_refused(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(erf_model(32), src)
    before = _snapshot(src)
    link = tmp_path / "link.onnx"
    link.symlink_to(src)
    hard = tmp_path / "hard.onnx"
    os.link(src, hard)
    for out in (src, link, hard, tmp_path / "sub" / ".." / "m.onnx"):
        proc = tpat_cli("onnx2plugin", "-i", str(src), "-o", str(out), "-t", "Erf", "-dynamic", "--validate", "never")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "is the input model" in proc.stderr and str(src) in proc.stderr, proc.stderr
    assert _snapshot(src) == before
    assert not (tmp_path / "trt_plugin").exists(), "nothing is built for a refused output"


def test_spec_output_equal_to_input_fails_that_model_in_plan_and_apply(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(48)}, ERF, tmp_path / "c")
    data = yaml.safe_load(spec.read_text())
    data["models"][0]["output"] = "a.onnx"
    spec.write_text(yaml.safe_dump(data))
    before = _snapshot(tmp_path / "w" / "a.onnx")
    plan = tpat_cli("plan", str(spec))
    assert plan.returncode == 1 and "is the input model" in plan.stdout, plan.stdout + plan.stderr
    proc = tpat_cli("apply", str(spec), "--no-progress")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _snapshot(tmp_path / "w" / "a.onnx") == before
    assert (tmp_path / "w" / "out" / "b.tpat.onnx").is_file(), "the other model still converts"


@pytest.mark.parametrize("where", ["output_dir_is_a_file", "output_is_a_folder"])
def test_unwritable_outputs_are_reported_before_any_work(tmp_path, where):
    cache = tmp_path / "c"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    if where == "output_dir_is_a_file":
        (tmp_path / "w" / "out").write_text("a file")
        expected = "is a file"
    else:
        (tmp_path / "w" / "out" / "a.tpat.onnx").mkdir(parents=True)
        expected = "is a folder"
    plan = tpat_cli("plan", str(spec))
    assert plan.returncode == 1 and expected in plan.stdout + plan.stderr, plan.stdout + plan.stderr
    proc = tpat_cli("apply", str(spec), "--no-progress")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in proc.stdout + proc.stderr
    assert not (cache / "build").exists(), "refused before building anything"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: an unwritable folder cannot be made")
def test_unwritable_output_folder(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, tmp_path / "c")
    (tmp_path / "w" / "out").mkdir()
    os.chmod(tmp_path / "w" / "out", 0o555)
    try:
        plan = tpat_cli("plan", str(spec))
        assert plan.returncode == 1 and "not writable" in plan.stderr, plan.stderr
    finally:
        os.chmod(tmp_path / "w" / "out", 0o755)


def test_two_specs_sharing_an_output_folder(tmp_path):
    """The second spec is refused: it would overwrite the first's manifest and its same-named plugin."""
    cache = tmp_path / "c"
    first = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    assert tpat_cli("apply", str(first), "--no-progress").returncode == 0
    out = tmp_path / "w" / "out"
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = tmp_path / "w" / "other.yaml"
    data = yaml.safe_load(first.read_text())
    (tmp_path / "w" / "b.onnx").write_bytes(erf_model(48, name="erf").SerializeToString())
    data["models"] = [{"path": "b.onnx", "targets": ERF}]
    second.write_text(yaml.safe_dump(data))
    proc = tpat_cli("apply", str(second), "--no-progress")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "manifest of spec '../spec.yaml'" in proc.stderr and "plugin 'tpat_erf'" in proc.stderr, proc.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files, "nothing of the first was touched"


@pytest.mark.slow
def test_two_onnx2plugin_runs_sharing_a_plugin_folder(tmp_path):
    """Same node name, different node: refused. Different names: both kept. The same model again: fine."""
    onnx.save(erf_model(32), tmp_path / "a.onnx")
    onnx.save(erf_model(48), tmp_path / "b.onnx")  # also a node named 'erf'
    onnx.save(erf_model(48, name="other"), tmp_path / "c.onnx")
    common = ["--plugin-dir", str(tmp_path / "plugins"), "-t", "Erf", "-dynamic", "--validate", "never"]
    assert tpat_cli("onnx2plugin", "-i", str(tmp_path / "a.onnx"), "-o", str(tmp_path / "a.out.onnx"),
                    *common).returncode == 0
    meta = (tmp_path / "plugins" / "meta" / "tpat_erf.json").read_bytes()
    proc = tpat_cli("onnx2plugin", "-i", str(tmp_path / "b.onnx"), "-o", str(tmp_path / "b.out.onnx"), *common)
    assert proc.returncode == 1 and "plugin 'tpat_erf'" in proc.stderr and "a.out.onnx" in proc.stderr, proc.stderr
    assert (tmp_path / "plugins" / "meta" / "tpat_erf.json").read_bytes() == meta
    assert tpat_cli("onnx2plugin", "-i", str(tmp_path / "c.onnx"), "-o", str(tmp_path / "c.out.onnx"),
                    *common).returncode == 0
    assert tpat_cli("onnx2plugin", "-i", str(tmp_path / "a.onnx"), "-o", str(tmp_path / "a.out.onnx"),
                    *common).returncode == 0
    assert {p.stem for p in (tmp_path / "plugins" / "meta").glob("*.json")} == {"tpat_erf", "tpat_other"}


def test_glob_rerun_skips_its_own_outputs(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for name in ("a", "b"):
        onnx.save(erf_model(32, name=f"erf_{name}"), folder / f"{name}.onnx")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "version": 1, "output_dir": ".", "cache_dir": str(tmp_path / "c"),
        "defaults": {"dynamic": {"batch": {"min": 1, "opt": 4, "max": 8}}},
        "models": [{"path": "**/*.onnx", "output": "{output_dir}/{stem}.tpat.onnx", "targets": ERF}]}))
    for _ in range(2):
        proc = tpat_cli("apply", str(spec), "--no-progress")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        manifest = yaml.safe_load((folder / "tpat.lock.yaml").read_text())
        assert [m["path"] for m in manifest["models"]] == ["a.onnx", "b.onnx"]
    assert not list(folder.glob("*.tpat.tpat.onnx"))


def test_api_refuses_output_equal_to_input(tmp_path):
    import tpat

    onnx.save(erf_model(32), tmp_path / "m.onnx")
    with pytest.raises(TpatError, match="is the input model"):
        tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "m.onnx", node_types=["Erf"], dynamic_bs=True,
                         validate="never")


def test_api_takes_paths_literally(tmp_path):
    """onnx2plugin's paths are files, whatever their characters: no glob, no output placeholders."""
    import tpat

    src = tmp_path / "model[1]*.onnx"
    onnx.save(erf_model(32), src)
    out = tmp_path / "out {stem} [x].onnx"
    result = tpat.onnx2plugin(src, out, node_types=["Erf"], dynamic_bs=True, validate="never")
    assert result.output_model == out and out.is_file()
