"""Issue-3 GPU checks: every core-engine plugin matches onnxruntime at batch 1, 7, 128 and 256 with one dynamic
kernel, fixed-shape plugins match at their shape, and dims outside the declared range return an error code.

Plugins are generated on a CPU machine (no TVM on the GPU machine): `python tests/gpu/prebuild.py DIR`, then
`TPAT_PREBUILT_DIR=DIR python3 -m pytest -m gpu tests/gpu`. Without TPAT_PREBUILT_DIR they are built here
(needs TVM).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import op_models

pytestmark = pytest.mark.gpu
BATCHES = [1, 7, 128, 256]


def _prebuilt() -> Path | None:
    value = os.environ.get("TPAT_PREBUILT_DIR")
    return Path(value) if value else None


@pytest.fixture(scope="module")
def plugin_dirs(tmp_path_factory) -> Path:
    root = _prebuilt()
    if root is not None:
        return root
    from prebuild_validation import build_all

    root = tmp_path_factory.mktemp("prebuilt")
    build_all(root)
    return root


def _single_plugin(trt_plugin: Path) -> str:
    from tpat.validate_folder import find_plugins

    (name,) = find_plugins(trt_plugin)
    return name


@pytest.mark.parametrize("op", sorted({**op_models.CORE_OPS, **op_models.EXTRA_OPS}))
def test_dynamic_batch_matches_onnxruntime(plugin_dirs, op):
    from tpat.validate_folder import validate_plugin

    trt_plugin = plugin_dirs / op / "trt_plugin"
    name = _single_plugin(trt_plugin)
    report = validate_plugin(trt_plugin, name, [[b] for b in BATCHES])
    print(f"{op}: " + ", ".join(f"b={p.dims[0]} max_abs_err={p.max_abs_err:.2g}" for p in report.points))
    assert [p.dims for p in report.points] == [[b] for b in BATCHES]
    bad = [(p.dims, p.detail) for p in report.points if not p.passed]
    assert not bad, bad
    assert report.range_checks and all(c.refused for c in report.range_checks), report.range_checks


@pytest.mark.parametrize("op", sorted(op_models.CORE_OPS) + sorted(op_models.FIXED_EXTRAS))
def test_fixed_shape_plugin_matches_at_its_shape(plugin_dirs, op):
    from tpat.validate_folder import validate_plugin

    trt_plugin = plugin_dirs / "fixed" / op / "trt_plugin"
    name = _single_plugin(trt_plugin)
    report = validate_plugin(trt_plugin, name)
    assert [p.label for p in report.points] == ["static"]
    assert report.passed, report.points


@pytest.mark.parametrize("name", sorted(op_models.POLICY_VARIANTS))
def test_dtype_policy_plugin_matches_the_fp32_node(plugin_dirs, name):
    """The plugin computes in fp16/bf16; onnxruntime runs the original fp32 node; the plugin dtype's tolerance."""
    from tpat.validate_folder import validate_plugin

    trt_plugin = plugin_dirs / "policy" / name / "trt_plugin"
    plugin = _single_plugin(trt_plugin)
    assert (trt_plugin / "meta" / f"{plugin}.ref.onnx").is_file()
    report = validate_plugin(trt_plugin, plugin, [[b] for b in BATCHES])
    print(f"{name}: " + ", ".join(f"b={p.dims[0]} max_abs_err={p.max_abs_err:.2g}" for p in report.points))
    assert report.passed, report.points


def test_tuned_bucket_and_symbolic_kernels_are_dispatched(plugin_dirs):
    """A tuned plugin: the bucket (batch 128) runs the tuned kernel set, other batches the symbolic one."""
    from tpat.validate_folder import validate_plugin

    trt_plugin = plugin_dirs / "tuned" / "Erf" / "trt_plugin"
    plugin = _single_plugin(trt_plugin)
    assert (trt_plugin / "src" / f"{plugin}_kernels_v1.cu").is_file()
    report = validate_plugin(trt_plugin, plugin, [[1], [127], [128], [129], [256]])
    print("tuned Erf: " + ", ".join(f"b={p.dims[0]} max_abs_err={p.max_abs_err:.2g}" for p in report.points))
    assert report.passed, report.points


@pytest.mark.parametrize("name", sorted(op_models.FUSED_GROUPS))
def test_fused_group_plugin_matches_onnxruntime(plugin_dirs, name):
    """Several nodes in one plugin (two outputs here): every output matches onnxruntime on the group."""
    from tpat.validate_folder import find_plugins, validate_plugin

    trt_plugin = plugin_dirs / "fused" / name / "out" / "trt_plugin"
    for plugin in find_plugins(trt_plugin):
        report = validate_plugin(trt_plugin, plugin, [[b] for b in BATCHES])
        print(f"{name}/{plugin}: " + ", ".join(f"b={p.dims[0]} max_abs_err={p.max_abs_err:.2g}" for p in report.points))
        assert report.passed, report.points
