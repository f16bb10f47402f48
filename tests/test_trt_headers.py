"""tpat.trt.headers: where the TensorRT headers come from and what version they are."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tpat.errors import TpatError
from tpat.trt import headers

ROOT = Path(__file__).resolve().parent.parent


def fake_include(tmp_path: Path, version_lines: str) -> Path:
    inc = tmp_path / "include"
    inc.mkdir()
    (inc / "NvInferRuntime.h").write_text("// placeholder\n")
    (inc / "NvInferVersion.h").write_text(version_lines)
    return inc


def test_reads_literal_version(tmp_path):
    # TensorRT 10.8's form.
    inc = fake_include(tmp_path, "#define NV_TENSORRT_MAJOR 10 //!< major\n#define NV_TENSORRT_MINOR 8\n"
                                 "#define NV_TENSORRT_PATCH 0\n")
    assert headers.read_version(inc) == (10, 8, 0)


def test_reads_indirect_version(tmp_path):
    # TensorRT 10.11+ form: the number sits on TRT_*_ENTERPRISE.
    inc = fake_include(tmp_path, "#define TRT_MAJOR_ENTERPRISE 11\n#define TRT_MINOR_ENTERPRISE 1\n"
                                 "#define TRT_PATCH_ENTERPRISE 0\n#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE\n"
                                 "#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE\n"
                                 "#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE\n")
    assert headers.read_version(inc) == (11, 1, 0)


def test_refuses_tensorrt_8(tmp_path):
    inc = fake_include(tmp_path, "#define NV_TENSORRT_MAJOR 8\n#define NV_TENSORRT_MINOR 6\n#define NV_TENSORRT_PATCH 1\n")
    with pytest.raises(TpatError, match=r"version 8\.6\.1; tpat needs TensorRT 10 or newer"):
        headers.read_version(inc)


def test_env_var_wins(tmp_path, monkeypatch):
    inc = fake_include(tmp_path, "#define NV_TENSORRT_MAJOR 10\n#define NV_TENSORRT_MINOR 3\n#define NV_TENSORRT_PATCH 2\n")
    monkeypatch.setenv(headers.ENV_VAR, str(inc))
    assert headers.find_headers() == headers.TrtHeaders(inc, (10, 3, 2))


def test_env_var_without_headers_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(headers.ENV_VAR, str(tmp_path))
    with pytest.raises(TpatError, match="has no NvInferRuntime.h"):
        headers.find_headers()


def test_kernel_lens_fallback(monkeypatch):
    monkeypatch.delenv(headers.ENV_VAR, raising=False)
    found = headers.find_headers()
    if importlib.util.find_spec("kernel_lens") is None:
        assert found is None
    else:
        assert found is not None and found.include_dir.parts[-2:] == ("include", "tensorrt")
        assert found.version >= (10, 0, 0)


@pytest.mark.parametrize("inc", sorted((ROOT / ".trt").glob("*/include")), ids=lambda p: p.parent.name)
def test_extracted_header_sets(inc):
    major, minor, _ = headers.read_version(inc)
    assert f"v{major}.{minor}" in inc.parent.name
