"""TensorRT's own registry, ONNX parser and builder (TensorRT-RTX, no GPU) on every core-engine plugin.

For each op of CORE_OPS with a dynamic batch (min 1, opt 128, max 256): the plugin library registers, the RTX ONNX
parser imports the rewritten node as that plugin, and an engine builds for the profile (plan bytes > 0). Plus the
failures a user meets: a plugin_version the library does not provide, a missing library, a profile wider than the
plugin was generated for. Each checker that this machine can run is exercised:

* cpp: ``tpat/trt/checker/rtx_check.cpp`` against TensorRT 11.x headers (``.trt/v11*/include`` or
  ``TENSORRT_INCLUDE_DIR``) + the RTX libraries (``tensorrt-rtx-cu13-libs`` or ``onnxruntime-ep-nv-tensorrt-rtx-cu13``);
* python: TensorRT-RTX's Python bindings (``tensorrt-rtx-cu13-bindings`` + ``tensorrt-rtx-cu13-libs``), no headers.

The plugins are generated once per session, against TensorRT 11.x headers when present (TensorRT-RTX has the 11 ABI),
else against whatever ``find_headers`` gives (kernel-lens 10.14 in CI: such plugins load, import and build, only
their log messages are lost).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import onnx
import pytest

from op_models import CORE_OPS
from plugin_build import nvcc_path
from tpat.trt.headers import ENV_VAR, HOW_TO_GET, find_headers
from tpat.trt.rtx import check_trt
from tpat.trt.rtx_locate import bindings_available, find_rtx_libs, find_trt11_headers

BACKENDS = []
if find_rtx_libs() is not None and find_trt11_headers() is not None:
    BACKENDS.append("cpp")
if bindings_available():
    BACKENDS.append("python")

pytestmark = [
    pytest.mark.skipif(nvcc_path() is None, reason="nvcc not found (the plugins are built with it)"),
    pytest.mark.skipif(not BACKENDS, reason="TensorRT-RTX is not installed: pip install "
                       "tensorrt-rtx-cu13-libs==1.7.1.116 tensorrt-rtx-cu13-bindings==1.7.1.116 (python checker), or "
                       "the RTX libraries plus TensorRT 11.x headers in .trt/v11.1/include or TENSORRT_INCLUDE_DIR "
                       "(cpp checker)"),
]
backends = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture(scope="session")
def core_plugins(tmp_path_factory) -> dict[str, Path]:
    """op -> rewritten model, each with its trt_plugin/ beside it; built once per session (~6 s per op)."""
    import tpat

    headers = find_trt11_headers() or find_headers()
    if headers is None:
        pytest.skip(f"no TensorRT headers to build the plugin libraries against: {HOW_TO_GET}")
    root = tmp_path_factory.mktemp("rtx")
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(headers.include_dir)
    try:
        models = {}
        for op, make in CORE_OPS.items():
            folder = root / op
            folder.mkdir()
            onnx.save(make(), folder / "model.onnx")
            tpat.onnx2plugin(folder / "model.onnx", folder / "model.tpat.onnx", node_types=[op], dynamic_bs=True,
                             validate="never")
            models[op] = folder / "model.tpat.onnx"
    finally:
        if old is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old
    print(f"\nplugins built against TensorRT {headers.version_str} headers ({headers.include_dir})")
    return models


@backends
@pytest.mark.parametrize("op", list(CORE_OPS))
def test_core_plugin_registers_imports_and_builds(core_plugins, op, backend):
    report = check_trt(core_plugins[op], backend=backend)
    print(f"\n{op} [{backend}]: " + report.summary().replace("\n", "\n    "))
    assert report.ok, report.summary() + "\n" + report.output
    assert report.status == "ok"
    assert report.plugins, "no plugin node found in the rewritten model"
    for p in report.plugins:
        assert p.registered is True, p
        assert p.imported is True, p
        assert p.layer == {"plugin": p.plugin, "version": "1", "namespace": ""}
    assert report.engine_bytes and report.engine_bytes > 0
    # the profile came from the plugin metadata: batch 1..256, opt 128
    assert "=1x" in " ".join(report.command) and ":128x" in " ".join(report.command)


def _copy(model: Path, dest: Path) -> tuple[Path, Path]:
    shutil.copytree(model.parent / "trt_plugin", dest / "trt_plugin")
    target = dest / model.name
    shutil.copy(model, target)
    return target, dest / "trt_plugin"


@backends
def test_version_mismatch_names_the_node(core_plugins, tmp_path, backend):
    model_path, plugin_dir = _copy(core_plugins["Erf"], tmp_path)
    model = onnx.load(str(model_path))
    (attr,) = [a for a in model.graph.node[0].attribute if a.name == "plugin_version"]
    attr.s = b"2"
    onnx.save(model, str(model_path))
    report = check_trt(model_path, plugin_dir, backend=backend)
    print("\n" + report.summary())
    assert not report.ok and report.status == "import-failed" and report.exit_code == 5
    (p,) = report.plugins
    assert p.registered is True and p.imported is False
    text = " ".join(report.problems)
    assert "node 'erf'" in text
    assert "Plugin not found" in text  # the parser's own words
    assert "version 2" in text and "provides version 1" in text


@backends
def test_missing_library_names_the_node(core_plugins, tmp_path, backend):
    model_path, plugin_dir = _copy(core_plugins["OneHot"], tmp_path)
    (plugin_dir / "lib" / "tpat_onehot.so").unlink()
    report = check_trt(model_path, plugin_dir, backend=backend)
    print("\n" + report.summary())
    assert not report.ok and report.status == "import-failed"
    (p,) = report.plugins
    assert p.registered is False and p.imported is False
    text = " ".join(report.problems)
    assert "tpat_onehot.so" in text and "does not exist" in text and "node 'onehot'" in text
    assert "no loaded plugin library registered a creator named 'tpat_onehot'" in text


@backends
def test_unloadable_library_fails_registration(core_plugins, tmp_path, backend):
    model_path, plugin_dir = _copy(core_plugins["Erf"], tmp_path)
    (plugin_dir / "lib" / "tpat_erf.so").write_bytes(b"not an ELF file")
    report = check_trt(model_path, plugin_dir, backend=backend)
    print("\n" + report.summary())
    assert not report.ok and report.status == "register-failed" and report.exit_code == 4
    (p,) = report.plugins
    assert p.registered is False
    assert any("node 'erf'" in m and "failed to register" in m for m in report.problems)


@backends
def test_profile_beyond_generated_range_fails_the_build(core_plugins, backend):
    report = check_trt(core_plugins["Erf"], backend=backend, shapes={"x": ((1, 64), (128, 64), (512, 64))})
    print("\n" + report.summary())
    assert not report.ok and report.status == "build-failed" and report.exit_code == 6
    text = " ".join(report.problems)
    assert "engine build failed" in text and "configurePlugin" in text
    if find_trt11_headers() is not None:  # an 11.x-built plugin's own explanation reaches TensorRT's log
        assert "the plugin was generated for [1, 256]" in text
