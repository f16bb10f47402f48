"""Shared test setup: GPU tests (`@pytest.mark.gpu`) skip cleanly where no NVIDIA GPU answers; a private task cache
per session; fixtures that take the TensorRT headers away (`header_search`, `no_kernel_lens`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/op_models.py and helpers


def pytest_collection_modifyitems(config, items):
    from tpat.gpu.cudart import gpu_available

    if any("gpu" in item.keywords for item in items) and not gpu_available():
        skip = pytest.mark.skip(reason="no NVIDIA GPU here (nvidia-smi -L failed)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Every test session gets its own task cache, so runs never see each other's entries."""
    os.environ["TPAT_CACHE_DIR"] = str(tmp_path_factory.mktemp("tpat-cache"))
    yield


@pytest.fixture
def header_search(tmp_path, monkeypatch) -> Path:
    """A machine without TensorRT for tpat.trt.headers: no TensorRT variables, no libnvinfer on LD_LIBRARY_PATH, and
    the system folders it searches (/usr/include, /usr/local, /opt) under the returned empty folder instead of /."""
    from tpat.trt import headers

    for var in (headers.ENV_VAR, *headers.ROOT_VARS):
        monkeypatch.delenv(var, raising=False)
    entries = filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep))
    kept = [e for e in entries if not any(Path(e).glob("libnvinfer.so*"))]
    monkeypatch.setenv("LD_LIBRARY_PATH", os.pathsep.join(kept))
    root = tmp_path / "system_root"
    root.mkdir()
    monkeypatch.setattr(headers, "SYSTEM_ROOT", root)
    return root


@pytest.fixture
def no_kernel_lens(tmp_path, monkeypatch) -> Path:
    """Hides an installed kernel-lens wheel: an empty package of that name first on sys.path (the folder is returned,
    for PYTHONPATH of a child process)."""
    shadow = tmp_path / "shadow"
    (shadow / "kernel_lens").mkdir(parents=True)
    (shadow / "kernel_lens" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(shadow))
    return shadow
