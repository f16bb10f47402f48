"""Issue 16: a rewritten model run whole on the GPU -- plugin nodes through their kernels, the rest in
onnxruntime -- matches the original at min / opt / max and an odd value of every dynamic dim.

Built on a CPU machine (`python tests/gpu/prebuild.py DIR --whole-only`), run on the GPU machine:
`TPAT_PREBUILT_DIR=DIR python3 -m pytest -q -m gpu tests/gpu/test_whole_model_gpu.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    root = os.environ.get("TPAT_PREBUILT_DIR")
    if root:
        return Path(root) / "whole" / "encoder"
    from prebuild_validation import build_whole

    return build_whole(tmp_path_factory.mktemp("whole"))


def test_rewritten_encoder_matches_onnxruntime_on_the_gpu(encoder):
    from tpat.runtime.whole_model import check_files

    result = check_files(encoder / "out" / "model.tpat.onnx", encoder / "model.onnx", backend="gpu")
    print(result.summary())
    assert (result.plugin_nodes, result.plugins) == (16, 3)
    assert [p.label for p in result.points] == ["min", "opt", "max", "odd"]
    assert result.passed, result.summary()


def test_cli_run_finds_original_and_plugins_beside_the_model(encoder):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "tpat.cli", "run", str(encoder / "out" / "model.tpat.onnx")],
                          capture_output=True, text=True, timeout=600)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0 and proc.stdout.startswith("PASS model.tpat.onnx vs model.onnx: 16 plugin nodes")
