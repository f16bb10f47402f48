"""The conformance cases fixed for issue 18, run on the GPU against the outputs ONNX's suite expects.

Needs a bundle built on a machine with TVM (no TVM on the GPU machine):

    PYTHONPATH=. python3 -m tpat.cli conformance --kernels-only --bundle .device/conformance      # CPU machine
    TPAT_CONFORMANCE_BUNDLE=.device/conformance PYTHONPATH=. python3 -m pytest -q -m gpu \
        tests/gpu/test_conformance_gpu.py

(the whole census on the GPU: `tpat conformance --gpu --bundle .device/conformance`). Without the variable the
cases are built here, which needs TVM.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from conformance_fixed import ON_GPU

pytestmark = pytest.mark.gpu
ENV = "TPAT_CONFORMANCE_BUNDLE"
FIXED = ON_GPU  # every fixed case that builds: tests/conformance_fixed.py


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).resolve()
    if importlib.util.find_spec("tvm") is None:
        pytest.skip(f"no TVM here and {ENV} unset: build the bundle on a machine with TVM")
    from tpat.cache.location import default_cache_dir
    from tpat.conformance.cases import load_cases
    from tpat.conformance.runner import run_cases

    root = tmp_path_factory.mktemp("conformance")
    cases = [c for c in load_cases(default_cache_dir()) if c.name in FIXED]
    run_cases(cases, root, default_cache_dir(), jobs=2, plugin_library=False)
    return root


@pytest.mark.parametrize("name", FIXED)
def test_fixed_case_matches_onnx_expected_outputs(bundle, name):
    from tpat.conformance.gpu_check import check_case

    folder = bundle / name
    if not (folder / "conformance.json").is_file():
        pytest.fail(f"{name} is not in the bundle {bundle}: it did not convert there")
    result = check_case(str(folder))
    assert result.passed, f"{name}: {result.detail} (max abs err {result.max_abs_err:.3g})"
