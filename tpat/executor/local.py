"""Local executor: plugin chains in parallel processes (`-j`), progress events back to the main process."""

from __future__ import annotations

import multiprocessing as mp
import queue
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..plan.model import Plan
from .chain import ChainResult, run_chain
from .progress import Progress


def execute(plan: Plan, trt_include: Path | None, jobs: int, progress: Progress) -> dict[str, ChainResult]:
    include = str(trt_include) if trt_include else None
    plugins = list(plan.plugins.values())
    if jobs <= 1 or len(plugins) <= 1:
        return {p.name: run_chain(p, plan.cache_dir, include, progress.event) for p in plugins}
    # fork is cheap and safe while this process has not imported TVM (planning never does); else spawn.
    ctx = mp.get_context("fork" if "tvm" not in sys.modules else "spawn")
    with ctx.Manager() as manager:
        events = manager.Queue()
        pump = threading.Thread(target=_pump, args=(events, progress), daemon=True)
        pump.start()
        results: dict[str, ChainResult] = {}
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_worker, p, plan.cache_dir, include, events): p.name for p in plugins}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    results[name] = future.result()
                except Exception as exc:  # the worker process died (e.g. killed): report, keep the others
                    import traceback

                    results[name] = ChainResult(name, error=f"worker failed: {type(exc).__name__}: {exc}",
                                                failed_stage="worker", traceback=traceback.format_exc())
        events.put(None)
        pump.join(timeout=5)
    return {p.name: results[p.name] for p in plugins}


def _worker(p, cache_dir, include, events) -> ChainResult:
    return run_chain(p, cache_dir, include, lambda *e: events.put(e))


def _pump(events, progress: Progress) -> None:
    while True:
        try:
            item = events.get(timeout=0.5)
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
        if item is None:
            return
        progress.event(*item)
