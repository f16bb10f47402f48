"""Without TensorRT headers tpat builds only the kernels libraries; apply, plan and onnx2plugin say so, and why.

The headers are taken away for real: no TensorRT variables, the system folders searched moved to an empty folder
(`header_search`), and an installed kernel-lens hidden behind an empty package of that name (`no_kernel_lens`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import onnx
import yaml

import tpat
from tpat.cli.main import main
from tpat.trt.headers import INSTALL_LINE
from workflow_helpers import erf_model, write_spec

WARNING = "no TensorRT headers found"
KERNELS_ONLY = "only the kernels libraries (lib<plugin>_kernels.so) are built, no TensorRT plugin (<plugin>.so)"


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "tpat.workflow"]


def test_apply_and_onnx2plugin_build_kernels_only_and_say_so(tmp_path, header_search, no_kernel_lens, capsys,
                                                             caplog):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, {"op_types": ["Erf"]}, tmp_path / "cache")
    assert main(["apply", str(spec), "--no-progress"]) == 0
    (warning,) = _warnings(caplog)
    assert warning.startswith(WARNING) and KERNELS_ONLY in warning and INSTALL_LINE in warning
    out = tmp_path / "w" / "out"
    assert sorted(p.name for p in (out / "trt_plugin" / "lib").iterdir()) == ["libtpat_erf_kernels.so"]
    assert f"warning: {warning}" in capsys.readouterr().out, "the apply summary repeats it"
    manifest = yaml.safe_load((out / "tpat.lock.yaml").read_text())
    # the manifest records that no headers were used; the warning text (with local paths) stays out of it
    assert "warnings" not in manifest and manifest["versions"]["tensorrt_headers"] == "none"

    caplog.clear()
    onnx.save(erf_model(32), tmp_path / "m.onnx")
    result = tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o" / "m.onnx", node_types=["Erf"], dynamic_bs=True,
                             validate="never")
    assert result.warnings == [warning] and _warnings(caplog) == [warning]
    assert sorted(p.name for p in (tmp_path / "o" / "trt_plugin" / "lib").iterdir()) == ["libtpat_erf_kernels.so"]


def test_plan_says_so_on_stderr_in_its_output_and_json(tmp_path, header_search, no_kernel_lens):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, {"op_types": ["Erf"]}, tmp_path / "cache")
    # A child process, so stderr is the CLI's own (pytest captures logging in-process); it searches the same empty
    # system root, and PYTHONPATH hides kernel-lens there too.
    run = ("import sys, pathlib, tpat.trt.headers as h; h.SYSTEM_ROOT = pathlib.Path(sys.argv[1]); "
           "from tpat.cli.main import main; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(no_kernel_lens), *sys.path])}
    plans = [subprocess.run([sys.executable, "-c", run, str(header_search), "plan", str(spec), *flag],
                            capture_output=True, text=True, env=env, timeout=300) for flag in ([], ["--json"])]
    for proc in plans:
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith(f"WARNING: {WARNING}") and KERNELS_ONLY in proc.stderr, proc.stderr
    warning = proc.stderr.splitlines()[0].removeprefix("WARNING: ")
    assert f"warning: {warning}" in plans[0].stdout
    assert json.loads(plans[1].stdout)["warnings"] == [warning]
