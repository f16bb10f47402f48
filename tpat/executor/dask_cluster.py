"""The Dask cluster the Dask executor runs on: a scheduler at an address, or a cluster started here for the run.

Started here, it is sized to the machine: `cpu_workers` single-threaded worker processes for the CPU stages (TVM's
lowering and nvcc each keep a core busy, and processes keep TVM's GIL-holding Python apart), plus one worker per
visible GPU that declares the Dask resource ``GPU=1`` and sees only its GPU (CUDA_VISIBLE_DEVICES), so a GPU task
(tune, validate) runs one per GPU. GPU workers take CPU stages too when idle. Each worker runs under a nanny, which
restarts it if it dies; the scheduler then hands its tasks to another worker.

`dask.distributed` is an optional extra (`tpat[dask]`): without it, asking for the Dask executor says how to
install it instead of failing on an import.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator

from ..errors import TpatError

log = logging.getLogger(__name__)
INSTALL_HINT = 'install the extra: python3 -m pip install "tpat[dask]" (or: python3 -m pip install "dask[distributed]")'
GPU_RESOURCE = "GPU"
CONNECT_TIMEOUT_S = 30
WORKERS_TIMEOUT_S = 120  # a scheduler without workers: how long to wait for the first before giving up
# The scheduler's lock (the cache's cross-host dedup) is a lease the holder refreshes; a worker that dies holding
# it keeps it until the lease times out. Shorter than Dask's 30 s here: a retried task waits less. A lease that
# expires under a live holder costs at most one duplicate build (the store keeps the first entry placed).
LOCAL_LOCK_LEASE = {"distributed.scheduler.locks.lease-timeout": "10s",
                    "distributed.scheduler.locks.lease-validation-interval": "2s"}


def import_distributed():
    """The `distributed` module, or a TpatError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise TpatError(f"executor kind dask needs dask.distributed, which is not installed here ({exc})",
                        hint=INSTALL_HINT) from exc
    return distributed


def default_cpu_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def worker_specs(cpu_workers: int, gpus: list[str], quiet: bool = True) -> dict:
    """SpecCluster worker specs: `cpu-<i>` single-threaded workers, and `gpu-<id>` per GPU with the GPU resource
    and CUDA_VISIBLE_DEVICES set to that GPU alone."""
    from distributed import Nanny

    common = {"nthreads": 1, **({"silence_logs": logging.ERROR} if quiet else {})}
    specs = {f"cpu-{i}": {"cls": Nanny, "options": dict(common)} for i in range(cpu_workers)}
    for gpu in gpus:
        specs[f"gpu-{gpu}"] = {"cls": Nanny, "options": {**common, "resources": {GPU_RESOURCE: 1},
                                                          "env": {"CUDA_VISIBLE_DEVICES": gpu}}}
    return specs


@contextlib.contextmanager
def local_cluster(cpu_workers: int, gpus: list[str] | None = None) -> Iterator:
    """A cluster on this machine (scheduler on 127.0.0.1, no dashboard); closed on exit. `gpus` default: the
    visible GPUs."""
    import dask
    from distributed import Scheduler, SpecCluster

    from ..gpu.cudart import visible_gpus

    gpus = visible_gpus() if gpus is None else gpus
    quiet = not log.isEnabledFor(logging.DEBUG)
    with dask.config.set(LOCAL_LOCK_LEASE):
        cluster = SpecCluster(workers=worker_specs(cpu_workers, gpus, quiet),
                              scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": False,
                                                                  "dashboard_address": "127.0.0.1:0"}},
                              silence_logs=logging.ERROR if quiet else False, name="tpat")
        log.debug("local Dask cluster at %s: %d CPU workers, GPU workers for %s", cluster.scheduler_address,
                  cpu_workers, gpus or "no GPU")
        try:
            yield cluster
        finally:
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)  # a worker slow to exit (a loaded machine) is killed: no news, ours
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)


@contextlib.contextmanager
def connect(address: str | None, cpu_workers: int | None) -> Iterator:
    """A client of the scheduler at `address`, or of a local cluster started for this run (`cpu_workers` CPU
    workers, default one per core, plus one per visible GPU); both closed on exit."""
    distributed = import_distributed()
    if address is None:
        with _quiet(), local_cluster(cpu_workers or default_cpu_workers()) as cluster, \
                distributed.Client(cluster) as client:
            client.wait_for_workers(len(cluster.worker_spec), timeout=WORKERS_TIMEOUT_S)  # GPU workers included
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise TpatError(f"cannot reach the Dask scheduler at {address}: {exc}",
                        hint="start it (`dask scheduler`) and its workers, or leave out the address for a local "
                             "cluster; docs/dask.md") from exc
    with _quiet(), client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError as exc:
            raise TpatError(f"no worker joined the Dask scheduler at {address} in {WORKERS_TIMEOUT_S} s",
                            hint=f"start workers: dask worker {address} --nthreads 1 (and, per GPU, with "
                                 f"CUDA_VISIBLE_DEVICES=<gpu> and --resources {GPU_RESOURCE}=1)") from exc
        yield client


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Dask's own INFO lines (workers coming and going) only with -v; its warnings stay."""
    logger = logging.getLogger("distributed")
    level = logger.level
    if not log.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def workers(client) -> dict[str, dict]:
    """address -> the scheduler's record of each worker (its `resources` among them)."""
    try:
        info = client.scheduler_info(n_workers=-1)  # newer distributed lists only a few workers by default
    except TypeError:
        info = client.scheduler_info()
    return info.get("workers", {})


def gpu_workers(client) -> list[str]:
    return [a for a, w in workers(client).items() if (w.get("resources") or {}).get(GPU_RESOURCE, 0) >= 1]
