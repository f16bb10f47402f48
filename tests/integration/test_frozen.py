"""`--frozen`: outputs rebuilt from tpat.lock.yaml on any machine, any drift refused before anything is written."""

from __future__ import annotations

import shutil

import onnx
import pytest
import yaml

from tpat.errors import TpatError
from tpat.workflow import apply_spec
from workflow_helpers import ROOT, erf_model, tpat_cli, write_spec

ERF = {"op_types": ["Erf"]}


def _files(folder):
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_builtin_example_manifest_is_the_same_with_another_cache(tmp_path):
    """The example's manifest once embedded the cache folder (the builtin model's path) in its commands."""
    work = tmp_path / "w"
    work.mkdir()
    spec = work / "example.yaml"
    spec.write_text((ROOT / "configs" / "example.yaml").read_text().replace("../tpat_out", "out"))
    for cache in ("c1", "c2"):
        proc = tpat_cli("apply", str(spec), "--no-progress", *(["--frozen"] if cache == "c2" else []),
                        env_cache=str(tmp_path / cache))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (work / "out" / "tpat.lock.yaml").read_text()
    assert str(tmp_path) not in text and "builtin/example.onnx" in text
    assert (work / "out" / "builtin" / "example.onnx").is_file()


def test_failed_frozen_writes_nothing(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, tmp_path / "c")
    apply_spec(spec, progress=False)
    out = tmp_path / "w" / "out"
    manifest = out / "tpat.lock.yaml"
    data = yaml.safe_load(manifest.read_text())
    (rel,) = [k for k in data["plugins"]["tpat_erf"]["artifacts"] if k.endswith(".cu") and "_kernels" in k]
    data["plugins"]["tpat_erf"]["artifacts"][rel] = "0" * 64  # as if the toolchain made other bytes
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    (out / "a.tpat.onnx").unlink()
    (out / "trt_plugin" / rel.split("/", 1)[1]).write_text("// edited by hand\n")
    before = _files(out)
    with pytest.raises(TpatError, match="nothing was written") as e:
        apply_spec(spec, frozen=True, progress=False)
    assert rel in str(e.value)
    assert _files(out) == before, "a refused --frozen leaves every output as it was"


def test_frozen_detects_a_changed_output_path(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, tmp_path / "c")
    apply_spec(spec, progress=False)
    data = yaml.safe_load(spec.read_text())
    data["models"][0]["output"] = "{output_dir}/renamed.onnx"
    spec.write_text(yaml.safe_dump(data))
    with pytest.raises(TpatError, match=r"output a.tpat.onnx -> renamed.onnx"):
        apply_spec(spec, frozen=True, progress=False)
    assert not (tmp_path / "w" / "out" / "renamed.onnx").exists()


def test_frozen_detects_a_changed_external_data_file(tmp_path):
    """A model whose weights live in a .data file: the manifest's sha256 covers that file too."""
    work = tmp_path / "w"
    work.mkdir()
    model = erf_model(32)
    import numpy as np
    from onnx import numpy_helper

    bias = numpy_helper.from_array(np.arange(32, dtype=np.float32), "bias")
    model.graph.initializer.append(bias)
    model.graph.node.append(onnx.helper.make_node("Add", ["y", "bias"], ["z"], name="add"))
    model.graph.output[0].name = "z"
    onnx.save(model, work / "a.onnx", save_as_external_data=True, location="a.data", size_threshold=0)
    spec = write_spec(work, {}, ERF, tmp_path / "c")
    data = yaml.safe_load(spec.read_text())
    data["models"] = [{"path": "a.onnx", "targets": ERF}]
    spec.write_text(yaml.safe_dump(data))
    apply_spec(spec, progress=False)
    assert apply_spec(spec, frozen=True, progress=False).ran == []
    raw = bytearray((work / "a.data").read_bytes())
    raw[0] ^= 1
    (work / "a.data").write_bytes(bytes(raw))
    with pytest.raises(TpatError, match="model ../a.onnx changed"):
        apply_spec(spec, frozen=True, progress=False)
    shutil.rmtree(work / "out")
