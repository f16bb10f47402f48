"""One plugin's task chain: its planned stages in order, each through the cache. The executor only orders, caches
and reports; what a task does is its stage's `run(plugin, workdir, upstream)` (`tpat.stages`). Every task reads
only its inputs and writes only its cache entry (a temp folder that the store renames into place), so chains of
different plugins run in parallel processes safely, and a killed run leaves only complete entries behind: the next
run redoes just what is missing.

`run_stage` is one stage through the cache, the unit every executor schedules; `run_chain` runs a plugin's stages
in a row with it (the local executor), the Dask executor submits each stage as a task of its own.
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

    def record(self, outcome: StageOutcome) -> None:
        """Add one stage's outcome (in chain order)."""
        if outcome.entry is not None:
            self.entries[outcome.stage] = outcome.entry
            if outcome.built:
                self.ran.append(outcome.stage)
                self.seconds[outcome.stage] = outcome.seconds
            else:
                self.cached.append(outcome.stage)
        if outcome.error is not None:
            self.error, self.failed_stage = outcome.error, outcome.stage
            self.traceback, self.exception = outcome.traceback, outcome.exception

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


@dataclass
class StageOutcome:
    """What running one stage through the cache gave: its entry (and whether it was built now), or its failure.
    One stage is the unit every executor schedules: the local one runs a plugin's stages in a row, the Dask one
    submits each as its own task. `stops` says the chain ends here (a failure, or a validation that failed)."""

    stage: str
    entry: str | None = None
    built: bool = False
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None  # a bug in tpat (not a TpatError)
    stops: bool = False
    skipped: bool = False  # not run: an earlier stage of the chain stopped it (the Dask executor's graph)
    exception: Exception | None = field(default=None, repr=False)  # kept in-process only (not pickled back)

    def __getstate__(self):
        return {**self.__dict__, "exception": None}

    @property
    def status(self) -> str:
        """The progress event it reports: done | cached | failed."""
        if self.entry is None:
            return "failed"
        return "done" if self.built else "cached"


def run_stage(p: PluginTasks, stage: str, entries: dict[str, str], cache: CacheStore,
              trt_include: str | None) -> StageOutcome:
    """Run one planned stage of `p` through the cache, given the entries of the stages before it."""
    from ..errors import TpatError

    spec = p.tasks[stage]
    run = stage_runners()[stage]
    upstream = Upstream({s: Path(e) for s, e in entries.items()}, Path(trt_include) if trt_include else None)
    start = time.perf_counter()
    try:
        entry, built = cache.put(stage, spec.key, lambda tmp: run(p, tmp, upstream))
    except TpatError as exc:
        log.info("%s %s failed: %s", stage, p.name, exc)
        return StageOutcome(stage, error=str(exc), stops=True, exception=exc)
    except Exception as exc:  # a bug, but one plugin must not take the other models down with it
        return StageOutcome(stage, error=f"internal error: {type(exc).__name__}: {exc}",
                            traceback=traceback.format_exc(), stops=True)
    outcome = StageOutcome(stage, str(entry), built, time.perf_counter() - start)
    if not built:
        log.debug("%s %s: cached (%s)", stage, p.name, spec.key[:12])
    if stage == "validate" and not json.loads((entry / "report.json").read_text())["passed"]:
        outcome.error, outcome.stops = "validation failed: outputs differ from onnxruntime", True
    return outcome


def planned_stages(p: PluginTasks) -> list[str]:
    return [stage for stage in STAGES if stage in p.tasks]


def run_chain(p: PluginTasks, cache_root: Path, trt_include: str | None, event: Event | None = None) -> ChainResult:
    """Run the planned stages of one plugin in order through the cache; stop at the first failure."""
    cache = CacheStore(cache_root)
    result = ChainResult(p.name)
    for stage in planned_stages(p):
        if event:
            event(p.name, stage, "start")
        outcome = run_stage(p, stage, result.entries, cache, trt_include)
        result.record(outcome)
        if event:
            event(p.name, stage, outcome.status)
        if outcome.stops:
            break
    return result
