"""Local executor: plugin chains in parallel processes (`-j`), progress events back to the main process.

Workers die with the main process: a `tpat apply` killed with SIGKILL (no chance to clean up) must not leave
idle workers behind. On Linux each worker asks the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG);
elsewhere a watchdog thread notices the parent's pid change. Progress events travel on a plain queue the workers
inherit at start-up (no manager process, which would itself outlive a killed parent).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..planner.task_graph import TaskGraph
from .chain import ChainResult, run_chain
from .progress import Progress

_events = None  # the worker's end of the progress queue (set by _init_worker)


def execute(plan: TaskGraph, trt_include: Path | None, jobs: int, progress: Progress) -> dict[str, ChainResult]:
    include = str(trt_include) if trt_include else None
    plugins = list(plan.plugins.values())
    if jobs <= 1 or len(plugins) <= 1:
        return {p.name: run_chain(p, plan.cache_dir, include, progress.event) for p in plugins}
    # fork is cheap and safe while this process has not imported TVM (planning never does); else spawn.
    ctx = mp.get_context("fork" if "tvm" not in sys.modules else "spawn")
    events = ctx.Queue()
    pump = threading.Thread(target=_pump, args=(events, progress), daemon=True)
    pump.start()
    results: dict[str, ChainResult] = {}
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(events, os.getpid())) as pool:
            futures = {pool.submit(_worker, p, plan.cache_dir, include): p.name for p in plugins}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    results[name] = future.result()
                except Exception as exc:  # the worker process died (e.g. killed): report, keep the others
                    import traceback

                    results[name] = ChainResult(name, error=f"worker failed: {type(exc).__name__}: {exc}",
                                                failed_stage="worker", traceback=traceback.format_exc())
    finally:
        events.put(None)
        pump.join(timeout=5)
        events.close()
    return {p.name: results[p.name] for p in plugins}


def _init_worker(events, parent: int) -> None:
    global _events
    _events = events
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    die_with_parent(parent)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when `parent` does: SIGKILL from the kernel where Linux offers it, else a
    watchdog thread. Also used by the conformance run's workers."""
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _die_with_parent() -> bool:
    """Linux: SIGKILL this process when its parent exits. False where the kernel cannot do it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _worker(p, cache_dir, include) -> ChainResult:
    return run_chain(p, cache_dir, include, lambda *e: _events.put(e))


def _pump(events, progress: Progress) -> None:
    while True:
        try:
            item = events.get(timeout=0.5)
        except queue.Empty:
            continue
        except (EOFError, OSError, ValueError):
            return
        if item is None:
            return
        progress.event(*item)
