"""How runs end: bugs exit 70 with their traceback (never disguised as user errors), killed runs leave no
workers, the summary tells failed tasks from cached ones, outputs get the user's umask."""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

import tpat
from tpat.errors import InternalError
from workflow_helpers import erf_model, tpat_cli, write_spec

ERF = {"op_types": ["Erf"]}


def _break_codegen(monkeypatch):
    """A bug in a stage (fault injection: the stage code raises a non-TpatError exception)."""
    from tpat.stages import codegen

    def broken(*args, **kwargs):
        raise ZeroDivisionError("injected bug in codegen")

    monkeypatch.setattr(codegen, "render_kernels", broken)


def test_api_raises_a_bug_as_internal_error_with_its_traceback(tmp_path, monkeypatch):
    _break_codegen(monkeypatch)
    onnx.save(erf_model(32), tmp_path / "m.onnx")
    with pytest.raises(InternalError) as e:
        tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o.onnx", node_types=["Erf"], dynamic_bs=True,
                         validate="never", cache_dir=tmp_path / "cache")  # its own cache: nothing cached
    assert not isinstance(e.value, tpat.TpatError)
    assert "ZeroDivisionError: injected bug in codegen" in e.value.traceback_text
    assert "codegen.py" not in e.value.traceback_text or "render_kernels" in e.value.traceback_text


BUG = """
import tpat.stages.codegen as codegen


def _broken(*args, **kwargs):
    raise ZeroDivisionError("injected bug in codegen")


codegen.render_kernels = _broken
"""


def _cli_with_a_bug(tmp_path, *args):
    """`tpat ARGS` in a child whose processes (workers too, forked or spawned) all run a broken codegen: a
    sitecustomize on PYTHONPATH patches it at interpreter start-up (fault injection without touching tpat)."""
    inject = tmp_path / "inject"
    inject.mkdir(exist_ok=True)
    (inject / "sitecustomize.py").write_text(BUG)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(inject), *sys.path]),
               TPAT_CACHE_DIR=str(tmp_path / "cache"))  # nothing cached: the broken stage runs
    return subprocess.run([sys.executable, "-m", "tpat.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


NO_DASK = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                             reason='dask.distributed is not installed: pip install "tpat[dask]"')


@pytest.mark.parametrize("jobs, flags", [(1, ()), (2, ()), pytest.param(2, ("--executor", "dask"), marks=NO_DASK)])
def test_cli_exits_70_and_shows_the_traceback_with_v(tmp_path, jobs, flags):
    """Also from worker processes (-j 2, Dask workers): the traceback travels back with the chain's result."""
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(48)}, ERF, tmp_path / "c",
                      jobs=jobs)
    proc = _cli_with_a_bug(tmp_path, "apply", str(spec), "--no-progress", *flags)
    assert proc.returncode == 70, proc.stdout + proc.stderr
    assert "internal error in tpat (this is a bug" in proc.stderr and "injected bug in codegen" in proc.stderr
    assert "Traceback" not in proc.stderr and "-v" in proc.stderr
    proc = _cli_with_a_bug(tmp_path, "-v", "apply", str(spec), "--no-progress", *flags)
    assert proc.returncode == 70
    assert "Traceback (most recent call last)" in proc.stderr and "ZeroDivisionError" in proc.stderr
    assert "tasks: 0 ran, 2 cached, 2 failed, 2 not run" in proc.stdout, proc.stdout  # was "6 cached"


def test_onnx2plugin_bug_exits_70(tmp_path):
    onnx.save(erf_model(32), tmp_path / "m.onnx")
    proc = _cli_with_a_bug(tmp_path, "onnx2plugin", "-i", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o.onnx"),
                           "-t", "Erf", "-dynamic", "--validate", "never")
    assert proc.returncode == 70 and "injected bug in codegen" in proc.stderr, proc.stderr


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(c) for c in task.read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc")
def test_killing_the_main_process_leaves_no_workers(tmp_path):
    models = {f"m{i}.onnx": erf_model(16 * (i + 1), name=f"erf{i}") for i in range(6)}
    spec = write_spec(tmp_path / "w", models, ERF, tmp_path / "c", jobs=2)
    proc = subprocess.Popen([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        workers |= _children(proc.pid)
        time.sleep(0.05)
    assert workers, "the run should have started worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30  # a liveness bound, generous: the kernel delivers the parent-death signal at once
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "workers outlived the killed main process"


@pytest.mark.parametrize("mask, file_mode, lib_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(tmp_path, mask, file_mode, lib_mode):
    """mkstemp's 0600 once survived the rename: trtexec running as another user could not read the plugins."""
    onnx.save(erf_model(32), tmp_path / "m.onnx")
    proc = tpat_cli("onnx2plugin", "-i", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o" / "m.onnx"), "-t", "Erf",
                    "-dynamic", "--validate", "never", umask=mask)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in (tmp_path / "o").rglob("*") if p.is_file()]
    assert len(files) >= 6
    for p in files:
        want = lib_mode if p.suffix == ".so" else file_mode
        assert stat.S_IMODE(p.stat().st_mode) == want, (p, oct(p.stat().st_mode))
    assert stat.S_IMODE((tmp_path / "m.onnx").stat().st_mode) == 0o644 & ~os.umask(os.umask(0))
