"""Which executor runs a plan, and the dispatch to it: one module per executor (`local`, `dask_run`).

The spec's `executor` says it; `tpat apply --executor`, `--scheduler-address` and `-j` override it. A scheduler
address means Dask. Whatever runs the tasks, the run returns the same `ChainResult` per plugin, so the outputs,
the manifest and the exit codes do not depend on the executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import TpatError
from ..planner.task_graph import TaskGraph
from .chain import ChainResult
from .progress import Progress

KINDS = ("local", "dask")


@dataclass(frozen=True)
class ExecutorChoice:
    kind: str = "local"
    jobs: int = 1  # local: plugins built in parallel processes
    address: str | None = None  # dask: the scheduler; None: a local cluster started for the run
    cpu_workers: int | None = None  # dask, local cluster: CPU workers (None: one per core)


def choose(spec_executor, kind: str | None = None, address: str | None = None,
           jobs: int | None = None) -> ExecutorChoice:
    """The spec's `executor` overridden by the command line's choices (None: not given). Checks that Dask is
    installed when it is chosen, before any planning work."""
    if kind is not None and kind not in KINDS:
        raise TpatError(f"unknown executor {kind!r}", hint=f"one of: {', '.join(KINDS)}")
    if address and kind == "local":
        raise TpatError(f"--scheduler-address {address} is a Dask scheduler's, but the executor asked for is local",
                        hint="use --executor dask, or leave out --scheduler-address")
    kind = kind or ("dask" if address else spec_executor.kind)
    spec_jobs = spec_executor.jobs if "jobs" in spec_executor.model_fields_set else None
    if kind == "local":
        return ExecutorChoice("local", jobs or spec_executor.jobs)
    from .dask_cluster import import_distributed

    import_distributed()
    return ExecutorChoice("dask", jobs or spec_executor.jobs, address or spec_executor.address, jobs or spec_jobs)


def execute(plan: TaskGraph, choice: ExecutorChoice, trt_include: Path | None,
            progress: Progress) -> dict[str, ChainResult]:
    if choice.kind == "dask":
        from .dask_run import execute as run_on_dask

        return run_on_dask(plan, trt_include, progress, choice.address, choice.cpu_workers)
    from .local import execute as run_locally

    return run_locally(plan, trt_include, choice.jobs, progress)
