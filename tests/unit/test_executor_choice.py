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


def test_visible_gpus_follow_cuda_visible_devices():
    from tpat.gpu.cudart import visible_gpus

    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1"}) == ["0", "1"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-1a2b, 3"}) == ["GPU-1a2b", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,-1,3"}) == ["2"]  # CUDA stops at the first invalid entry


def test_the_local_cluster_has_one_gpu_worker_per_gpu_with_its_gpu_alone():
    pytest.importorskip("distributed", reason='dask.distributed is not installed: pip install "tpat[dask]"')
    from tpat.executor.dask_cluster import worker_specs

    specs = worker_specs(2, ["0", "1"])
    assert sorted(specs) == ["cpu-0", "cpu-1", "gpu-0", "gpu-1"]
    assert all(s["options"]["nthreads"] == 1 for s in specs.values())
    assert [s["options"].get("resources") for s in specs.values()] == [None, None, {"GPU": 1}, {"GPU": 1}]
    assert [s["options"].get("env") for s in specs.values()] == \
        [None, None, {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
