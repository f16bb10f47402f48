"""tpat.trt.headers: where the TensorRT headers come from and what version they are."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tpat.errors import TpatError
from tpat.trt import headers

ROOT = Path(__file__).resolve().parents[2]


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


# --- the search: real header copies in real folders, only the environment and the system root redirected ---------

KERNEL_LENS = headers.kernel_lens_include()
needs_real_headers = pytest.mark.skipif(KERNEL_LENS is None, reason="copies kernel-lens' TensorRT headers: "
                                        + headers.INSTALL_LINE)


def real_include(folder: Path, major: int | None = None) -> Path:
    """`folder` holding copies of kernel-lens' NvInferRuntime.h and NvInferVersion.h, the major changed if given."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("NvInferRuntime.h", "NvInferVersion.h"):
        shutil.copyfile(KERNEL_LENS / name, folder / name)
    if major is not None:
        version = folder / "NvInferVersion.h"
        text, n = re.subn(r"(#define TRT_MAJOR_ENTERPRISE )\d+", rf"\g<1>{major}", version.read_text())
        assert n == 1, "kernel-lens' NvInferVersion.h changed form"
        version.write_text(text)
    return folder


@needs_real_headers
def test_search_order(header_search, tmp_path, monkeypatch):
    root = header_search
    order = []
    for var in headers.ROOT_VARS:  # tar packages named by the variables build scripts read
        monkeypatch.setenv(var, str(tmp_path / var))
        order.append(real_include(tmp_path / var / "include"))
    (tmp_path / "tar" / "lib").mkdir(parents=True)
    (tmp_path / "tar" / "lib" / "libnvinfer.so.10").write_bytes(b"")  # lib/ on LD_LIBRARY_PATH -> its include/
    order.append(real_include(tmp_path / "tar" / "include"))
    real_include(tmp_path / "other" / "include")  # beside an LD_LIBRARY_PATH folder without libnvinfer: not used
    (tmp_path / "other" / "lib").mkdir()
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{tmp_path / 'other' / 'lib'}:{tmp_path / 'tar' / 'lib'}")
    order.append(real_include(root / "usr" / "include" / headers._multiarch()))  # deb
    order.append(real_include(root / "usr" / "include"))  # rpm
    for tar in ("TensorRT-10.16.0.72", "TensorRT-10.9.0.34", "tensorrt"):  # newest first, by number not by text
        order.append(real_include(root / "usr" / "local" / tar / "include"))
    order.append(real_include(root / "opt" / "tensorrt" / "include"))

    explicit = real_include(tmp_path / "explicit")
    monkeypatch.setenv(headers.ENV_VAR, str(explicit))
    assert headers.find_headers() == headers.TrtHeaders(explicit, (10, 14, 1)), "TENSORRT_INCLUDE_DIR wins"
    monkeypatch.delenv(headers.ENV_VAR)
    for expected in order:
        assert headers.find_headers().include_dir == expected
        shutil.rmtree(expected)
    assert headers.find_headers() == headers.TrtHeaders(KERNEL_LENS, (10, 14, 1)), "kernel-lens comes last"


@needs_real_headers
def test_old_tensorrt_is_passed_over_and_named(header_search, no_kernel_lens):
    old = real_include(header_search / "usr" / "include" / headers._multiarch(), major=8)
    new = real_include(header_search / "opt" / "tensorrt" / "include")
    search = headers.search_headers()
    assert search.found == headers.TrtHeaders(new, (10, 14, 1))
    assert search.passed_over == (f"TensorRT headers in '{old}' are version 8.14.1; tpat needs TensorRT 10 or newer "
                                  "(IPluginV3)",)
    shutil.rmtree(new)
    search = headers.search_headers()
    assert search.found is None and headers.find_headers() is None
    warning = headers.missing_headers_warning(search)
    assert f"passed over TensorRT headers in '{old}' are version 8.14.1" in warning
    assert "only the kernels libraries (lib<plugin>_kernels.so) are built, no TensorRT plugin" in warning
    assert headers.INSTALL_LINE in warning and headers.ENV_VAR in warning


def test_nothing_found_without_kernel_lens(header_search, no_kernel_lens):
    assert headers.search_headers() == headers.HeaderSearch(None, ())


@pytest.mark.parametrize("inc", sorted((ROOT / ".trt").glob("*/include")), ids=lambda p: p.parent.name)
def test_extracted_header_sets(inc):
    major, minor, _ = headers.read_version(inc)
    assert f"v{major}.{minor}" in inc.parent.name
