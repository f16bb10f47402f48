"""Which executor runs: the spec's `executor`, overridden by `tpat apply --executor / --scheduler-address / -j`;
without dask.distributed, asking for Dask says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tpat.errors import TpatError
from tpat.executor.choice import ExecutorChoice, choose
from tpat.spec.model import Executor
from workflow_helpers import erf_model, write_spec


def test_the_spec_decides_unless_the_command_line_says_otherwise():
    assert choose(Executor()) == ExecutorChoice("local", 1)
    assert choose(Executor(jobs=3)) == ExecutorChoice("local", 3)
    assert choose(Executor(jobs=3), jobs=2) == ExecutorChoice("local", 2)
    assert choose(Executor(kind="dask", address="tcp://s:8786"), kind="local") == ExecutorChoice("local", 1)


def test_a_scheduler_address_is_dask_and_never_local():
    pytest.importorskip("distributed", reason='dask.distributed is not installed: pip install "tpat[dask]"')
    assert choose(Executor(), address="tcp://s:8786") == ExecutorChoice("dask", 1, "tcp://s:8786", None)
    assert choose(Executor(kind="dask")) == ExecutorChoice("dask", 1, None, None)  # a local cluster, one per core
    assert choose(Executor(kind="dask", jobs=4)).cpu_workers == 4
    assert choose(Executor(kind="dask"), jobs=2).cpu_workers == 2
    with pytest.raises(TpatError, match="--scheduler-address tcp://s:8786 is a Dask scheduler's"):
        choose(Executor(), kind="local", address="tcp://s:8786")


def test_without_dask_the_dask_executor_says_how_to_install_it(tmp_path):
    """A shadow `distributed` package that fails to import, as on a machine without the extra: exit 1 before any
    work, with the install line."""
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'distributed'\", "
                                        "name='distributed')\n")
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(16)}, {"op_types": ["Erf"]}, tmp_path / "c")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), *sys.path]))
    for flags in (["--executor", "dask"], ["--scheduler-address", "tcp://127.0.0.1:1"]):
        proc = subprocess.run([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress", *flags],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert "executor kind dask needs dask.distributed, which is not installed" in proc.stderr
        assert 'pip install "tpat[dask]"' in proc.stderr
    assert not (tmp_path / "c").exists() and not (tmp_path / "w" / "out").exists()
