"""Every core-engine plugin (plus Softmax fp16) through the IPluginV3 harness on a GPU, at batch 1, 7, 128, 256.

The real ``<plugin>.so`` that onnx2plugin built is dlopened by tests/harness/trt_harness (compiled here with nvcc
against the TensorRT headers the plugin was built with: no libnvinfer anywhere), driven through the build and runtime
phases, and its outputs are compared with onnxruntime on ``meta/<plugin>.onnx``. The batch-7 run also passes
``--reject`` (batch 257 must be refused by configurePlugin, onShapeChange and enqueue).

Plugins come from ``TPAT_PREBUILT_DIR`` (written by tests/gpu/prebuild.py on a machine with TVM) or, when TVM is
importable, are generated into a temporary folder. Set ``TPAT_HARNESS_REPORT=<file>`` to get one line per run there.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import harness_cases as hc
import op_models

pytestmark = pytest.mark.gpu

OPS = [*op_models.CORE_OPS, *op_models.EXTRA_OPS]


@pytest.fixture(scope="session")
def prebuilt_root(tmp_path_factory) -> Path:
    env = os.environ.get(hc.PREBUILT_ENV)
    if env:
        root = Path(env).resolve()
        if not root.is_dir():
            pytest.fail(f"{hc.PREBUILT_ENV}={env} is not a folder")
        return root
    if importlib.util.find_spec("tvm") is None:
        pytest.skip(f"no TVM here and {hc.PREBUILT_ENV} unset: run tests/gpu/prebuild.py on a machine with TVM")
    include = hc.include_for(None)
    if include is None:
        pytest.skip("no TensorRT headers to build the plugins against")
    root = tmp_path_factory.mktemp("prebuilt")
    hc.prebuild(root, {**op_models.CORE_OPS, **op_models.EXTRA_OPS}, include)
    return root


@pytest.fixture(scope="session")
def harness(prebuilt_root, tmp_path_factory) -> Path:
    if hc.find_nvcc() is None:
        pytest.skip("nvcc not found: the harness is compiled on the GPU machine")
    include = hc.include_for(prebuilt_root)
    if include is None:
        pytest.skip(f"no TensorRT headers of the major the plugins were built with "
                    f"({hc.read_manifest(prebuilt_root).get('trt_version')}); carry .trt")
    return hc.build_harness(include, tmp_path_factory.mktemp("harness") / "trt_harness")


def _report(lines: list[str]) -> None:
    path = os.environ.get("TPAT_HARNESS_REPORT")
    if path:
        with open(path, "a") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


@pytest.mark.parametrize("op", OPS)
def test_real_plugin_through_harness(op, prebuilt_root, harness, tmp_path):
    op_dir = prebuilt_root / op
    if not op_dir.is_dir():
        pytest.fail(f"{op_dir} missing: regenerate with tests/gpu/prebuild.py")
    p = hc.load_plugin(op_dir)
    assert p.library.is_file(), f"{p.library} missing: prebuild needs TensorRT headers"
    results = []
    for n, dims in enumerate(hc.run_points(p.signature)):
        reject = dims == [hc.REJECT_BATCH] * len(dims)
        results.append(hc.run_case(harness, p, dims, tmp_path / f"run{n}", seed=n, reject=reject))
    _report([r.summary(op) for r in results])
    batches = [r.dims for r in results]
    assert [[b] for b in hc.BATCHES] == batches or not p.signature.dims or len(p.signature.dims) > 1, batches
    assert any(r.reject for r in results) or not p.signature.dims, "no --reject run"
    failed = [r for r in results if not r.passed]
    assert not failed, "\n\n".join(f"{r.summary(op)}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr[-3000:]}"
                                   for r in failed)
    for r in results:  # the harness went through the whole sequence, clone included
        assert "enqueue ok" in r.stdout and "clone ok" in r.stdout, r.stdout
        if r.reject:
            for step in ("reject configurePlugin ok", "reject onShapeChange ok", "reject enqueue ok",
                         "reject enqueue-before-onShapeChange ok"):
                assert step in r.stdout, r.stdout


def test_fp16_erf_on_every_finite_half(prebuilt_root, harness, tmp_path):
    """The Erf_fp16 plugin (tpat/schedules/half_precision_erf.py: erf evaluated to 16 bits, `__expf` on the GPU) on
    all 63,488 finite halves, 256 x 40 a run: each output the correctly rounded erf or one ulp from it."""
    import math

    import numpy as np

    p = hc.load_plugin(prebuilt_root / "Erf_fp16")
    values = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    values = values[np.isfinite(values)]
    chunk = 256 * 40
    got = []
    for n, start in enumerate(range(0, values.size, chunk)):
        part = np.resize(values[start:start + chunk], chunk)  # the last run repeats values to fill its batch
        result = hc.run_case(harness, p, [256], tmp_path / f"run{n}", inputs=[part.reshape(256, 40)])
        assert result.passed, f"{result.summary('Erf_fp16')}\n{result.stdout}\n{result.stderr[-2000:]}"
        got.append(result.outputs[0].reshape(-1)[:min(chunk, values.size - start)])
    got = np.concatenate(got).astype(np.float16)
    exact = np.array([math.erf(v) for v in values.astype(np.float64)]).astype(np.float16)

    def ordinal(a):
        bits = a.view(np.int16).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFF), bits)

    off = np.abs(ordinal(got) - ordinal(exact))
    _report([f"Erf_fp16 on every finite half: {np.count_nonzero(off)} of {values.size} one ulp off, max {off.max()}"])
    assert off.max() <= 1 and np.count_nonzero(off) <= 200
