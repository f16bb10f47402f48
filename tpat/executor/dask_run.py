"""Dask executor: the plan's task graph on a dask.distributed cluster, one Dask task per stage of each plugin.

Each stage task depends on the stages before it in its plugin's chain and runs `chain.run_stage` on a worker:
the same function, the same cache, the same outputs as the local executor. Tasks that need a GPU (a tune that
searches, a validate; not when their entry is cached already) ask for the worker resource ``GPU=1``, so they run
only on GPU workers, one per GPU; the CPU stages run on any worker.

The cache is the only state: on a path every worker sees (a shared filesystem, same mount point), written
through temp folders renamed into place. Two tasks of one key never both build: the store takes the scheduler's
lock of that key (cluster-wide) around its file mutex (one machine). A worker that dies mid-task leaves at most a
temp folder the store removes later; the scheduler gives its tasks to another worker (a task whose workers keep
dying fails after Dask's `allowed-failures`), and tasks that raise are retried (`RETRIES`).

Progress: a worker posts "start" on a topic of its own for this run; "done" / "cached" / "failed" come from the
results, on this side. Every result comes back to this process, which builds the same `ChainResult`s as the local
executor: the outputs, the manifest and the exit codes are the executor's business no further.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import traceback
import uuid
from pathlib import Path

from ..cache import CacheStore
from ..errors import TpatError
from ..planner.task_graph import PluginTasks, TaskGraph
from .chain import ChainResult, StageOutcome, planned_stages, run_stage
from .dask_cluster import GPU_RESOURCE, connect, gpu_workers, workers
from .progress import Progress

log = logging.getLogger(__name__)
RETRIES = 2
STRANDED_AFTER_S = 60.0  # GPU tasks waiting with no GPU worker in the cluster (or any task with no worker at all)
GPU_WORKER_WAIT_S = 30.0  # a cluster of yours: how long GPU workers may take to join after the first worker
POLL_S = 0.5
WATCH_S = 2.0  # how often the workers are counted while tasks wait


def execute(plan: TaskGraph, trt_include: Path | None, progress: Progress, address: str | None = None,
            cpu_workers: int | None = None) -> dict[str, ChainResult]:
    include = str(trt_include) if trt_include else None
    with connect(address, cpu_workers) as client:
        # a cluster started here has all its workers already; one of yours may still be starting its GPU workers
        return _Run(client, plan, include, progress, GPU_WORKER_WAIT_S if address else 0.0).run()


class _Run:
    def __init__(self, client, plan: TaskGraph, include: str | None, progress: Progress, gpu_wait_s: float = 0.0):
        self.client, self.plan, self.include, self.progress = client, plan, include, progress
        self.gpu_wait_s = gpu_wait_s
        self.run_id = uuid.uuid4().hex[:12]
        self.topic = f"tpat-progress-{self.run_id}"
        self.chains: dict[str, list[tuple[str, object]]] = {}  # plugin -> [(stage, future)]
        self.gpu_keys: set[str] = set()
        self.outcomes: dict[str, StageOutcome] = {}  # future key -> what the task returned
        self.errors: dict[str, tuple[str, str | None]] = {}  # future key -> (message, traceback or None)
        self.started: set[tuple[str, str]] = set()
        self.finished: set[tuple[str, str]] = set()
        self.lock = threading.Lock()  # starts come on the client's event loop thread, ends on this one
        self.stopped: set[str] = set()  # plugins whose chain ended (no more progress events for them)

    def run(self) -> dict[str, ChainResult]:
        plugins = list(self.plan.plugins.values())
        gpu_tasks = {(p.name, s) for p in plugins for s in planned_stages(p) if self._needs_gpu(p, s)}
        if gpu_tasks and not self._gpu_worker_joins():
            raise TpatError(f"{len(gpu_tasks)} tasks need a GPU ({_some(gpu_tasks)}), but no worker of the Dask "
                            f"cluster declares the resource {GPU_RESOURCE}",
                            hint=f"start a worker per GPU: CUDA_VISIBLE_DEVICES=<gpu> dask worker <scheduler> "
                                 f"--nthreads 1 --resources {GPU_RESOURCE}=1; or run where a GPU answers without "
                                 "an address (one GPU worker per visible GPU); docs/dask.md")
        self.client.subscribe_topic(self.topic, self._on_start)
        try:
            for p in plugins:
                self._submit(p, gpu_tasks)
            self._collect()
        finally:
            with contextlib.suppress(Exception):  # a scheduler gone: the error on the way out is the one to see
                self.client.unsubscribe_topic(self.topic)
        return {p.name: self._chain_result(p) for p in plugins}

    def _gpu_worker_joins(self) -> bool:
        deadline = time.monotonic() + self.gpu_wait_s
        while not gpu_workers(self.client):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    def _needs_gpu(self, p: PluginTasks, stage: str) -> bool:
        """A GPU stage whose entry is not in the cache yet (reading a cached entry needs no GPU)."""
        return p.runs_on_gpu(stage) and not CacheStore(self.plan.cache_dir).has(stage, p.tasks[stage].key)

    def _submit(self, p: PluginTasks, gpu_tasks: set) -> None:
        prior: list = []
        chain = self.chains.setdefault(p.name, [])
        for stage in planned_stages(p):
            gpu = (p.name, stage) in gpu_tasks
            future = self.client.submit(
                stage_task, p, stage, list(prior), str(self.plan.cache_dir), self.include,
                self.plan.versions, self.topic, key=f"tpat-{stage}-{p.name}-{self.run_id}", pure=False,
                retries=RETRIES, resources={GPU_RESOURCE: 1} if gpu else None)
            if gpu:
                self.gpu_keys.add(future.key)
            chain.append((stage, future))
            prior.append(future)

    def _on_start(self, event) -> None:
        """A worker began a stage (from the topic; it can arrive late or twice, after a retry: shown once)."""
        _, (plugin, stage) = event
        with self.lock:
            if (plugin, stage) in self.started or (plugin, stage) in self.finished:
                return
            self.started.add((plugin, stage))
            self.progress.event(plugin, stage, "start")

    def _collect(self) -> None:
        import distributed

        where = {f.key: (name, stage) for name, chain in self.chains.items() for stage, f in chain}
        pending = {f for chain in self.chains.values() for _, f in chain}
        stranded_since: float | None = None
        watched = time.monotonic()
        while pending:
            try:
                done, pending = distributed.wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
                pending = set(pending)
            except TimeoutError:
                done = set()
            for future in done:
                self._record(future, *where[future.key])
            if time.monotonic() - watched < WATCH_S:
                continue
            watched = time.monotonic()
            stranded = self._stranded(pending)
            if not stranded:
                stranded_since = None
            elif stranded_since is None:
                stranded_since = time.monotonic()
            elif time.monotonic() - stranded_since > STRANDED_AFTER_S:
                self._abandon(stranded, pending, where)
                pending = {f for f in pending if f.key not in self.errors}
                stranded_since = None

    def _record(self, future, plugin: str, stage: str) -> None:
        if future.key in self.errors:
            return
        if future.status == "finished":
            outcome = future.result()
            self.outcomes[future.key] = outcome
            if outcome.skipped:
                return
            status = outcome.status
        else:  # the task never returned: its workers kept dying, or it raised outside run_stage
            try:
                future.result()
                raise RuntimeError(f"task ended as {future.status}")
            except Exception as exc:
                message = f"worker failed: {type(exc).__name__}: {exc}"
                self.errors[future.key] = (message, "".join(traceback.format_exception(exc)))
            status = "failed"
        with self.lock:
            self.finished.add((plugin, stage))
        if plugin in self.stopped:
            return
        if status == "failed" or self.outcomes.get(future.key, StageOutcome(stage)).stops:
            self.stopped.add(plugin)
        self.progress.event(plugin, stage, status)

    def _stranded(self, pending: set) -> list:
        """Pending tasks no worker of the cluster can run now: GPU tasks without a GPU worker, any without workers."""
        if not pending:
            return []
        present = workers(self.client)
        if not present:
            return list(pending)
        if any(f.key in self.gpu_keys for f in pending) and not gpu_workers(self.client):
            return [f for f in pending if f.key in self.gpu_keys]
        return []

    def _abandon(self, stranded: list, pending: set, where: dict) -> None:
        """Fail tasks that waited STRANDED_AFTER_S for a worker able to run them, and the rest of their chains (the
        stages before them go on: a plugin built but not validated still gets its outputs)."""
        gpu = all(f.key in self.gpu_keys for f in stranded)
        message = (f"no worker with a {GPU_RESOURCE} resource is left in the Dask cluster (waited "
                   f"{STRANDED_AFTER_S:.0f} s); start GPU workers again (docs/dask.md)" if gpu else
                   f"no worker is left in the Dask cluster (waited {STRANDED_AFTER_S:.0f} s)")
        first: dict[str, int] = {}  # per plugin, the first stranded stage: it and the stages after it go
        for f in stranded:
            name, stage = where[f.key]
            index = [s for s, _ in self.chains[name]].index(stage)
            first[name] = min(first.get(name, index), index)
        doomed = [f for name, i in first.items() for _, f in self.chains[name][i:] if f in pending]
        for f in doomed:
            self.errors[f.key] = (message, None)
        self.client.cancel(doomed)
        log.warning("%s: %d tasks given up", message, len(doomed))

    def _chain_result(self, p: PluginTasks) -> ChainResult:
        """The plugin's outcomes in chain order, as `run_chain` would have recorded them."""
        result = ChainResult(p.name)
        for stage, future in self.chains[p.name]:
            if future.key in self.errors:
                message, trace = self.errors[future.key]
                result.error, result.failed_stage, result.traceback = message, stage, trace
                break
            outcome = self.outcomes[future.key]
            if outcome.skipped:
                break
            result.record(outcome)
            if outcome.stops:
                break
        return result


def _some(tasks: set) -> str:
    names = sorted(f"{stage} {plugin}" for plugin, stage in tasks)
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def stage_task(p: PluginTasks, stage: str, prior: list[StageOutcome], cache_dir: str, include: str | None,
               versions: dict, topic: str) -> StageOutcome:
    """One stage on a Dask worker: skipped when an earlier stage stopped the chain; refused (a user error) when the
    worker's tools differ from the planner's, which would put other bytes under the plan's keys; else
    `run_stage` with the scheduler's lock of the key around the cache's own."""
    from distributed import Lock, get_worker

    if any(o.stops or o.skipped for o in prior):
        return StageOutcome(stage, skipped=True)
    get_worker().log_event(topic, (p.name, stage))
    problem = _environment_problem(tuple(sorted(versions.items())), include)
    if problem is None and stage == "validate":
        problem = _device_problem(p.tasks["validate"].inputs.get("device"))
    if problem is not None:
        return StageOutcome(stage, error=f"worker {get_worker().address}: {problem}", stops=True)
    cache = CacheStore(Path(cache_dir), key_lock=lambda name: Lock(f"tpat-cache-{name}"))
    return run_stage(p, stage, {o.stage: o.entry for o in prior}, cache, include)


@functools.lru_cache(maxsize=8)
def _environment_problem(expected: tuple, include: str | None) -> str | None:
    from ..planner.build import versions

    here = versions(None)
    differ = [f"{k} {here[k]} here, {v} where planned" for k, v in expected if k != "tensorrt_headers"
              and here.get(k) != v]
    if differ:
        return ("this worker's tools differ from the planning machine's: " + "; ".join(differ) +
                " (install the same tpat, TVM and nvcc on every worker)")
    if include is not None and not Path(include).is_dir():
        return f"the TensorRT headers {include} are not on this worker (give workers the same install paths)"
    return None


def _device_problem(planned: str | None) -> str | None:
    from ..gpu.cudart import device_fingerprint

    here = device_fingerprint()
    if here != planned:
        return (f"its GPU ({here or 'none'}) is not the one validation was planned for ({planned}): validation "
                "keys name the GPU; use one GPU model per cluster")
    return None
