"""Worker processes for the conformance run that survive what a case does to them.

A case may crash its process (TVM aborts, a segfault in a compiler pass) or never finish; a census of a thousand
cases must still finish and say so for that case. The parent hands each worker one case at a time over the
worker's own pipe, so it always knows which case a worker holds: a worker that dies costs that case (recorded as
crashed, with its exit code), a case past its time limit gets its worker killed (recorded as timed out), and a
fresh worker takes the place. concurrent.futures cannot do this: a dead worker breaks its whole pool without
saying which task killed it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from multiprocessing.connection import wait
from typing import Callable, Iterable, Iterator

POLL_S = 0.5


def _serve(conn, fn, parent: int) -> None:
    from ..executor.local import die_with_parent

    die_with_parent(parent)  # a killed parent must not leave workers waiting on pipes forked siblings keep open
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        conn.send(fn(item))


class _Worker:
    def __init__(self, ctx, fn):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, fn, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.key: str | None = None
        self.started = 0.0

    def give(self, key: str, arg) -> None:
        self.key, self.started = key, time.monotonic()
        self.conn.send(arg)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.conn.close()


def run_all(fn: Callable, items: Iterable[tuple[str, object]], jobs: int, timeout_s: float,
            lost: Callable[[str, str], object]) -> Iterator[tuple[str, object]]:
    """Yield (key, fn(arg)) for each (key, arg), computed in `jobs` worker processes, in completion order. `fn`,
    its argument and its result must pickle; a case whose worker died or ran past `timeout_s` yields
    `lost(key, why)` instead. A result with a true `restart_worker` attribute retires its worker (say, after a
    CUDA fault, which spoils the process's CUDA context for every later case)."""
    ctx = mp.get_context("fork" if "tvm" not in sys.modules else "spawn")
    todo = list(items)[::-1]
    workers = [_Worker(ctx, fn) for _ in range(min(max(jobs, 1), len(todo)))]
    try:
        while todo or any(w.key for w in workers):
            for w in workers:
                if w.key is None and todo:
                    w.give(*todo.pop())
            busy = [w for w in workers if w.key is not None]
            ready = wait([w.conn for w in busy], timeout=POLL_S)
            for w in busy:
                key, why = w.key, None
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):  # it died while working on the case
                        w.process.join(timeout=5)
                        why = f"the process died (exit {w.process.exitcode})"
                elif time.monotonic() - w.started > timeout_s:
                    w.process.kill()
                    why = f"ran past {timeout_s:.0f} s"
                elif not w.process.is_alive():
                    why = f"the process died (exit {w.process.exitcode})"
                else:
                    continue
                w.key = None
                if why is not None:
                    result = lost(key, why)
                if why is not None or getattr(result, "restart_worker", False):  # gone, killed, or spoilt
                    w.stop()
                    workers[workers.index(w)] = _Worker(ctx, fn)
                yield key, result
    finally:
        for w in workers:
            w.stop()


def results_by_key(fn: Callable, items: Iterable[tuple[str, object]], jobs: int, timeout_s: float,
                   lost: Callable[[str, str], object], progress: Callable[[object], None] | None = None) -> dict:
    """`run_all`'s results by key, `progress(result)` called as each arrives (the conformance runs' loop)."""
    results = {}
    for key, result in run_all(fn, items, jobs, timeout_s, lost):
        results[key] = result
        if progress:
            progress(result)
    return results
