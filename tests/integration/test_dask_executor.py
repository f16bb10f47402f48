"""The Dask executor (tpat[dask]): the same task graph, cache, outputs and manifest as the local executor, on a
dask.distributed cluster; a worker killed mid-run changes nothing in the result; one key is built once across
workers whose file locks do not hold; GPU tasks without a GPU worker fail clearly instead of waiting for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tpat.executor.dask_cluster import INSTALL_HINT

distributed = pytest.importorskip("distributed", reason=f"dask.distributed is not installed: {INSTALL_HINT}")

from tpat.cache import CacheStore  # noqa: E402
from tpat.errors import TpatError  # noqa: E402
from tpat.executor.dask_cluster import local_cluster  # noqa: E402
from tpat.workflow import apply_spec  # noqa: E402
from workflow_helpers import erf_model, tpat_cli, write_spec  # noqa: E402

ERF = {"op_types": ["Erf"]}
FAKE_GPU = "Fake GPU / 9.0 / 1"  # what nvidia-smi would answer: makes the planner plan validate tasks


def _ten_models() -> dict:
    """10 models, 5 distinct Erf plugins (each shared by two models): 15 tasks, reuse across models included."""
    return {f"m{i}.onnx": erf_model(16 + i % 5) for i in range(10)}


def _entries_intact(cache: Path) -> list[str]:
    """Every entry of the cache as the store reads it (get() checks the hashes); returns the damaged ones."""
    store = CacheStore(cache)
    entries = [p.parent for p in cache.glob("*/*/*/entry.json")]
    assert entries
    return [str(e) for e in entries if store.get(e.parent.parent.name, e.name) is None]


def _tpat_tasks(client) -> dict[str, list[str]]:
    return {w: [k for k in keys if str(k).startswith("tpat-")] for w, keys in client.processing().items()}


@pytest.mark.slow
def test_a_killed_worker_changes_nothing_in_the_manifest(tmp_path):
    """10 models on a cluster of 2 workers; a worker busy with a task is killed (SIGKILL) once some tasks are
    done: the run still finishes, exit 0, with a manifest byte-identical to the local executor's (-j 2, a cache
    of its own), and every cache entry intact."""
    local = write_spec(tmp_path / "local", _ten_models(), ERF, tmp_path / "cache-local", jobs=2)
    proc = tpat_cli("apply", str(local), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    spec = write_spec(tmp_path / "dask", _ten_models(), ERF, tmp_path / "cache-dask")
    cache = tmp_path / "cache-dask"
    with local_cluster(cpu_workers=2, gpus=[]) as cluster, distributed.Client(cluster) as client:
        run = subprocess.Popen([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress",
                                "--scheduler-address", cluster.scheduler_address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = None
        while victim is None and run.poll() is None:
            busy = {w: keys for w, keys in _tpat_tasks(client).items() if keys}
            if busy and len(list(cache.glob("*/*/*/entry.json"))) >= 3:
                victim = sorted(busy)[0]
            time.sleep(0.1)
        assert victim is not None, "the run ended before a worker could be killed"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        out, err = run.communicate(timeout=900)
        killed = busy[victim]
        story = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.story(*killed))
    assert run.returncode == 0, out + err
    for key in killed:  # the task the killed worker was running ran again, to the end
        finishes = [t[2] for t in story if t[0] == key]
        assert finishes.count("processing") >= 2 and "memory" in finishes, (key, finishes)
    assert (tmp_path / "dask/out/tpat.lock.yaml").read_bytes() == (tmp_path / "local/out/tpat.lock.yaml").read_bytes()
    assert _entries_intact(cache) == []
    for i in range(10):
        assert (tmp_path / f"dask/out/m{i}.tpat.onnx").read_bytes() == \
            (tmp_path / f"local/out/m{i}.tpat.onnx").read_bytes()


def test_without_a_gpu_worker_gpu_tasks_fail_at_once(tmp_path, monkeypatch):
    """A plan with GPU tasks (validate: planned when a GPU answers here) on a cluster without a GPU worker says so
    before any work, instead of leaving the tasks waiting for a worker that never comes."""
    import tpat.workflow

    monkeypatch.setattr(tpat.workflow, "gpu_fingerprint", lambda: FAKE_GPU)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the local cluster gets no GPU worker, even on a GPU machine
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(40)}, ERF, tmp_path / "c")
    with pytest.raises(TpatError) as e:
        apply_spec(spec, progress=False, executor="dask", jobs=1)
    assert "2 tasks need a GPU (validate tpat_erf, validate tpat_erf_2)" in str(e.value)
    assert "resource GPU" in str(e.value) and "--resources GPU=1" in str(e.value)
    assert not list((tmp_path / "c").glob("*/*/*/entry.json")), "nothing ran"


def test_gpu_tasks_left_without_a_gpu_worker_fail_instead_of_waiting(tmp_path, monkeypatch):
    """The only GPU worker dies mid-run for good (no nanny): the validate tasks cannot run anywhere. They fail,
    with a message saying why, once no GPU worker has come back for STRANDED_AFTER_S; the run ends."""
    import tpat.workflow
    from tpat.executor import dask_run

    monkeypatch.setattr(tpat.workflow, "gpu_fingerprint", lambda: FAKE_GPU)
    monkeypatch.setattr(dask_run, "STRANDED_AFTER_S", 2.0)
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32), "b.onnx": erf_model(40)}, ERF, tmp_path / "c")
    with local_cluster(cpu_workers=1, gpus=[]) as cluster, distributed.Client(cluster) as client:
        gpu_worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                       "--nthreads", "1", "--no-nanny", "--resources", "GPU=1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(2, timeout=120)

            def kill_when_tasks_run():
                while not any(_tpat_tasks(client).values()):
                    time.sleep(0.05)
                gpu_worker.kill()

            killer = threading.Thread(target=kill_when_tasks_run, daemon=True)
            killer.start()
            result = apply_spec(spec, progress=False, scheduler_address=cluster.scheduler_address)
            killer.join(timeout=60)
        finally:
            gpu_worker.kill()
            gpu_worker.wait()
    assert gpu_worker.returncode == -signal.SIGKILL
    assert sorted(result.failed_models) == [0, 1]
    for name in ("tpat_erf", "tpat_erf_2"):
        chain = result.chains[name]
        assert chain.failed_stage == "validate" and not chain.internal
        assert "no worker with a GPU resource is left in the Dask cluster" in chain.error
        assert set(chain.entries) == {"lower", "codegen", "build"}


def test_one_key_is_built_once_where_file_locks_do_not_hold(tmp_path, monkeypatch):
    """Two workers run the same task (same key) at once on a cache whose file lock does not hold between them
    (flock over NFS between hosts; here the workers are threads of one process, with the file lock taken away):
    the scheduler's lock makes one build and the other find the entry."""
    from tpat.cache import store
    from tpat.executor.dask_run import stage_task
    from tpat.workflow import load_resolved, make_plan

    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(24)}, ERF, tmp_path / "c")
    plan, _ = make_plan(load_resolved(spec))
    (p,) = plan.plugins.values()
    monkeypatch.setattr(store, "FileMutex", lambda path: __import__("contextlib").nullcontext())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        a, b = sorted(client.scheduler_info()["workers"])
        futures = [client.submit(stage_task, p, "lower", [], str(plan.cache_dir), None, plan.versions, "t",
                                 workers=[w], allow_other_workers=False, pure=False) for w in (a, b)]
        outcomes = client.gather(futures)
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
    assert sorted(o.built for o in outcomes) == [False, True]
    assert outcomes[0].entry == outcomes[1].entry


def test_a_worker_with_other_tools_refuses_the_task(tmp_path):
    """A worker whose nvcc (or tpat, TVM, templates) differs from the planning machine's would put other bytes
    under the plan's keys: it refuses the task, as a user error naming the difference, and writes nothing."""
    from tpat.executor.dask_run import stage_task
    from tpat.workflow import load_resolved, make_plan

    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(24)}, ERF, tmp_path / "c")
    plan, _ = make_plan(load_resolved(spec))
    (p,) = plan.plugins.values()
    planned = {**plan.versions, "nvcc": "11.0.0"}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        outcome = client.submit(stage_task, p, "lower", [], str(plan.cache_dir), None, planned, "t").result()
    assert outcome.entry is None and outcome.stops and outcome.traceback is None
    assert "this worker's tools differ from the planning machine's: nvcc" in outcome.error
    assert "11.0.0 where planned" in outcome.error
    assert not (tmp_path / "c").exists()
