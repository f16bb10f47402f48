"""Pattern fusion through the whole pipeline: a 4-layer encoder converted by `tpat apply` with three patterns
becomes 3 plugins for 16 nodes; the rewritten model, run whole with each plugin's node model (the reference
backend, no GPU), matches the original at every point; TensorRT-RTX imports every plugin node and builds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gpu"))
from prebuild_validation import build_whole  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    return build_whole(tmp_path_factory.mktemp("whole"))


def test_apply_fuses_every_layer_into_three_shared_plugins(encoder):
    import yaml

    lock = yaml.safe_load((encoder / "out" / "tpat.lock.yaml").read_text())
    (model,) = lock["models"]
    assert len(model["nodes"]) == 16
    assert sorted(lock["plugins"]) == sorted({n["plugin"] for n in model["nodes"]})
    assert len(lock["plugins"]) == 3


def test_rewritten_model_runs_whole_and_matches(encoder):
    from tpat.runtime.whole_model import check_files

    result = check_files(encoder / "out" / "model.tpat.onnx", backend="reference")  # original from the manifest
    assert result.passed, result.summary()
    assert result.sessions == 17


def test_tensorrt_rtx_imports_every_plugin_node_and_builds(encoder):
    from tpat.trt.rtx import check_trt
    from tpat.trt.rtx_locate import bindings_available, find_rtx_libs

    if not (bindings_available() or find_rtx_libs()):
        pytest.skip("TensorRT-RTX is not installed (pip install -e .[trt-rtx])")

    report = check_trt(encoder / "out" / "model.tpat.onnx", encoder / "out" / "trt_plugin")
    assert report.ok, report.summary()
