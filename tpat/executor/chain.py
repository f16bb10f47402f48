"""One plugin's task chain: its planned stages in order, each through the cache. The executor only orders, caches
and reports; what a task does is its stage's `run(plugin, workdir, upstream)` (`tpat.stages`). Every task reads
only its inputs and writes only its cache entry (a temp folder that the store renames into place), so chains of
different plugins run in parallel processes safely, and a killed run leaves only complete entries behind: the next
run redoes just what is missing.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..cache import CacheStore
from ..planner.task_graph import STAGES, PluginTasks, Upstream

log = logging.getLogger(__name__)
Event = Callable[[str, str, str], None]  # (plugin, stage, status)


@dataclass
class ChainResult:
    plugin: str
    entries: dict[str, str] = field(default_factory=dict)  # stage -> entry folder
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    traceback: str | None = None  # set when the failure is a bug in tpat (not a TpatError): exit 70
    exception: Exception | None = field(default=None, repr=False)  # kept in-process only (not pickled back)

    def __getstate__(self):
        return {**self.__dict__, "exception": None}

    @property
    def internal(self) -> bool:
        return self.traceback is not None

    def raise_error(self) -> None:
        """Raise what failed: the user's error as itself, a bug as an InternalError with its traceback."""
        from ..errors import InternalError, TpatError

        if self.internal:
            raise InternalError(f"{self.failed_stage} of plugin {self.plugin}: {self.error}", self.traceback or "")
        raise self.exception or TpatError(self.error or "failed")


def stage_runners() -> dict:
    """stage name -> its module's `run(plugin, workdir, upstream) -> metadata`: the stages own all the work."""
    from ..stages import build, codegen, lower, tune, validate

    return {"tune": tune.run, "lower": lower.run, "codegen": codegen.run, "build": build.run,
            "validate": validate.run}


def run_chain(p: PluginTasks, cache_root: Path, trt_include: str | None, event: Event | None = None) -> ChainResult:
    """Run the planned stages of one plugin in order through the cache; stop at the first failure."""
    from ..errors import TpatError

    cache = CacheStore(cache_root)
    result = ChainResult(p.name)
    runners = stage_runners()
    for stage in STAGES:
        spec = p.tasks.get(stage)
        if spec is None:
            continue
        if event:
            event(p.name, stage, "start")
        upstream = Upstream({s: Path(e) for s, e in result.entries.items()}, Path(trt_include) if trt_include else None)
        start = time.perf_counter()
        try:
            entry, built = cache.put(stage, spec.key, lambda tmp, run=runners[stage]: run(p, tmp, upstream))
        except TpatError as exc:
            result.error, result.failed_stage, result.exception = str(exc), stage, exc
            log.info("%s %s failed: %s", stage, p.name, exc)
            if event:
                event(p.name, stage, "failed")
            return result
        except Exception as exc:  # a bug, but one plugin must not take the other models down with it
            result.error, result.failed_stage = f"internal error: {type(exc).__name__}: {exc}", stage
            result.traceback = traceback.format_exc()
            if event:
                event(p.name, stage, "failed")
            return result
        result.entries[stage] = str(entry)
        if built:
            result.ran.append(stage)
            result.seconds[stage] = time.perf_counter() - start
        else:
            result.cached.append(stage)
            log.debug("%s %s: cached (%s)", stage, p.name, spec.key[:12])
        if event:
            event(p.name, stage, "done" if built else "cached")
        if stage == "validate" and not json.loads((entry / "report.json").read_text())["passed"]:
            result.error, result.failed_stage = "validation failed: outputs differ from onnxruntime", stage
            return result
    return result
