"""Shared test setup: GPU tests (`@pytest.mark.gpu`) skip cleanly where no NVIDIA GPU answers."""

from __future__ import annotations

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
    import os

    os.environ["TPAT_CACHE_DIR"] = str(tmp_path_factory.mktemp("tpat-cache"))
    yield
