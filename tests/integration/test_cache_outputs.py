"""Through the pipeline: only the files a cache entry lists reach the outputs; killed runs' temp files are cleaned."""

from __future__ import annotations

from tpat.workflow import apply_spec
from workflow_helpers import erf_model, write_spec

ERF = {"op_types": ["Erf"]}


def test_unlisted_files_never_reach_the_outputs(tmp_path):
    cache = tmp_path / "c"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    apply_spec(spec, progress=False)
    (entry,) = [p.parent for p in cache.glob("codegen/*/*/entry.json")]
    (entry / "evil.cu").write_text("// not listed in entry.json\n")
    result = apply_spec(spec, progress=False)
    assert ("tpat_erf", "codegen") in result.ran, "an entry with an unlisted file is rebuilt"
    assert not list((tmp_path / "w" / "out").rglob("evil.cu"))


def test_cache_tmp_is_cleaned_by_the_next_run(tmp_path):
    cache = tmp_path / "c"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, cache)
    from tpat.fsutil import temp_tag

    host = temp_tag().split("-")[0]
    leftover = cache / "tmp" / f".lower-0123456789ab.{host}-999999999.qq.tmp"
    leftover.mkdir(parents=True)
    apply_spec(spec, progress=False)
    assert not leftover.exists()


def test_output_folders_are_cleaned_by_the_next_run(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, ERF, tmp_path / "c")
    apply_spec(spec, progress=False)
    from tpat.fsutil import temp_tag

    host = temp_tag().split("-")[0]
    out = tmp_path / "w" / "out"
    leftovers = [out / f".a.tpat.onnx.{host}-999999999.x1.tmp", out / "trt_plugin" / "lib" /
                 f".tpat_erf.so.{host}-999999999.x2.tmp"]
    for p in leftovers:
        p.write_bytes(b"half a file")
    apply_spec(spec, progress=False)
    assert not [p for p in leftovers if p.exists()]

