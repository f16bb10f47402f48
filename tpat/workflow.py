"""`tpat apply` / `tpat plan` / `onnx2plugin`: plan, run the tasks through the cache, place the outputs, rewrite
the models, write the manifest. A failing model is reported without losing the others' results.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .cache import CacheStore
from .errors import TpatError
from .executor.chain import ChainResult
from .planner.task_graph import TaskGraph

log = logging.getLogger(__name__)


@dataclass
class ModelStatus:
    state: str  # ok | failed
    output_sha256: str | None = None
    error: str | None = None
    trt_check: dict | None = None  # TensorRT-RTX parser/builder result, when requested
    model_check: dict | None = None  # the whole rewritten model against the original on the GPU (validate stage)
    exception: Exception | None = field(default=None, repr=False)  # the rewrite's error, for the Python API


@dataclass
class ApplyResult:
    plan: TaskGraph
    chains: dict[str, ChainResult] = field(default_factory=dict)
    model_status: dict[int, ModelStatus] = field(default_factory=dict)
    artifacts: dict[str, dict[str, str]] = field(default_factory=dict)
    validation: dict[str, dict] = field(default_factory=dict)
    commands: dict[int, dict] = field(default_factory=dict)  # model index -> trtexec / polygraphy lines
    seconds: float = 0.0

    @property
    def failed_models(self) -> list[int]:
        return [i for i, s in self.model_status.items() if s.state != "ok"]

    @property
    def ran(self) -> list[tuple[str, str]]:
        return [(name, stage) for name, c in self.chains.items() for stage in c.ran]

    @property
    def cached(self) -> list[tuple[str, str]]:
        return [(name, stage) for name, c in self.chains.items() for stage in c.cached]

    @property
    def failed(self) -> list[tuple[str, str]]:
        """Tasks that raised (a validation that ran and found differences is a task that ran)."""
        return [(name, c.failed_stage) for name, c in self.chains.items()
                if c.failed_stage and c.failed_stage not in c.entries]


def gpu_fingerprint() -> str | None:
    from .gpu.cudart import device_fingerprint

    return device_fingerprint()


def make_plan(resolved, plugin_dir: Path | None = None, jobs: int | None = None, check_trt: bool = False,
              kernels_only: bool = False):
    """(plan, TensorRT headers or None) for a resolved spec. Without headers no TensorRT plugin can be built: the
    plan carries a warning saying so (shown by apply, plan and onnx2plugin) and it is logged now, before any work.
    `kernels_only`: plan as without headers, on purpose and without the warning (a check of the kernels alone)."""
    from .planner import build_task_graph
    from .trt.headers import missing_headers_warning, search_headers

    search = None if kernels_only else search_headers()
    headers = search.found if search else None
    wants_gpu = any(m.validate or m.trials or any(m.per_op_trials.values()) for m in resolved.models)
    gpu = gpu_fingerprint() if wants_gpu else None
    plugin_dir = plugin_dir or resolved.output_dir / "trt_plugin"
    plan = build_task_graph(resolved, plugin_dir, headers.version_str if headers else None, gpu, jobs, check_trt)
    if headers is None and search is not None:
        plan.warnings.append(missing_headers_warning(search))
        log.warning(plan.warnings[-1])
    return plan, headers


def task_states(plan: TaskGraph) -> dict[tuple[str, str], str]:
    cache = CacheStore(plan.cache_dir)
    return {(p.name, t.stage): ("cached" if cache.has(t.stage, t.key) else "run") for p, t in plan.tasks()}


def run_plan(plan: TaskGraph, headers, progress: bool = True,
             before_writing: Callable[[ApplyResult], None] | None = None, executor=None) -> ApplyResult:
    """Run the tasks (on `executor`, an `ExecutorChoice`; default: local processes, `plan.jobs` of them), compose
    every output file, let `before_writing` inspect the result (it may raise: then nothing in the output folders
    has changed), place the files, then run the after-build checks."""
    from .executor.choice import ExecutorChoice, execute
    from .executor.materialize import plugin_outputs
    from .outputs import digests, place
    from .executor.progress import Progress

    start = time.perf_counter()
    result = ApplyResult(plan)
    reporter = Progress(len(plan.tasks()), enabled=progress)
    try:
        result.chains = execute(plan, executor or ExecutorChoice("local", plan.jobs),
                                headers.include_dir if headers else None, reporter)
    finally:
        reporter.close()
    result.commands = _commands(plan)
    outputs = {}
    for name, p in plan.plugins.items():
        chain = result.chains[name]
        if chain.error is None or chain.failed_stage == "validate":
            first = result.commands.get(p.nodes[0].model)  # ready commands for the first model using it
            files = plugin_outputs(p, chain, plan.plugin_dir, {"commands": first} if first else None)
            result.artifacts[name] = digests(files, plan.plugin_dir.parent)
            outputs.update(files)
        if "validate" in chain.entries:
            report = json.loads((Path(chain.entries["validate"]) / "report.json").read_text())
            result.validation[name] = _validation_summary(report)
    for mp in plan.models:
        result.model_status[mp.index], files = _rewrite_model(plan, mp, result.chains)
        outputs.update(files)
    if before_writing is not None:
        before_writing(result)
    place(outputs)
    for mp in plan.models:
        status = result.model_status[mp.index]
        if mp.validate and mp.nodes and status.state == "ok":
            _check_whole_model(plan, mp, status)
        if mp.check_trt and status.state == "ok":
            _check_trt(plan, mp, status)
    result.seconds = time.perf_counter() - start
    return result


def _commands(plan: TaskGraph) -> dict[int, dict]:
    """trtexec/Polygraphy lines per model, relative to the output folder (docs/tensorrt.md explains them)."""
    from .trt.commands import model_commands

    out = {}
    for mp in plan.models:
        if mp.error or not mp.nodes:
            continue
        names = list(dict.fromkeys(name for _, name in mp.nodes))
        libs = [plan.layout.path(n, "plugin_library") for n in names]
        dims = [d for n in names for d in plan.plugins[n].signature.dims]
        try:
            out[mp.index] = model_commands(mp.source, mp.output, libs, dims, base=plan.output_dir)
        except Exception as exc:  # a convenience: never fail a conversion over it
            out[mp.index] = {"notes": [f"commands unavailable: {exc}"]}
    return out


def _check_trt(plan: TaskGraph, mp, status: ModelStatus) -> None:
    """The after-build stage: TensorRT-RTX registers the plugins, parses the model, builds the engine."""
    from .trt.rtx import check_trt

    try:
        report = check_trt(mp.output, plan.plugin_dir, cache_dir=plan.cache_dir)
    except TpatError as exc:
        status.state, status.error = "failed", f"check-trt: {exc}"
        status.trt_check = {"ok": False, "error": str(exc).splitlines()[0]}
        return
    status.trt_check = {"ok": report.ok, "engine_bytes": report.engine_bytes}
    if not report.ok:
        status.state, status.error = "failed", f"check-trt: {report.summary()}"


def _check_whole_model(plan: TaskGraph, mp, status: ModelStatus) -> None:
    """The validate stage's per-model step: the rewritten model, plugins in place, against the original."""
    from .runtime.whole_model import check_files

    try:
        check = check_files(mp.output, mp.source, plan.plugin_dir, "gpu", mp.dynamic)
    except TpatError as exc:
        status.state, status.error = "failed", f"whole-model check: {exc}"
        status.model_check = {"passed": False, "error": str(exc).splitlines()[0]}
        return
    status.model_check = {"passed": check.passed, "sessions": check.sessions,
                          "points": [{"dims": p.dims, "max_abs_err": float(f"{p.max_abs_err:.2g}")}
                                     for p in check.points]}
    log.info("%s", check.summary())
    if not check.passed:
        status.state, status.error = "failed", f"whole-model check: {check.summary()}"


def _validation_summary(report: dict) -> dict:
    return {"passed": report["passed"],
            "points": [{"dims": p["dims"], "max_abs_err": float(f"{p['max_abs_err']:.2g}"), "passed": p["passed"]}
                       for p in report["points"]],
            "out_of_range_refused": all(c["refused"] for c in report["range_checks"])}


def _rewrite_model(plan: TaskGraph, mp, chains) -> tuple[ModelStatus, dict]:
    """The model's status and its output files (composed, not written: the model, its external data)."""
    from .graph.model_io import compose_model, load_model
    from .stages.rewrite import Replacement, rewrite

    if mp.error:
        return ModelStatus("failed", error=mp.error), {}
    broken = [f"{name}: {chains[name].failed_stage} failed: {chains[name].error}"
              for _, name in mp.nodes if chains[name].error]
    if broken:
        return ModelStatus("failed", error="; ".join(dict.fromkeys(broken))), {}
    try:
        original = load_model(mp.source)
        replacements = [Replacement(n.node_index, n.node_name, name, n.inputs, n.outputs, n.folded,
                                    input_casts=n.input_casts, output_casts=n.output_casts, fused=n.fused)
                        for n, name in mp.nodes]
        files = compose_model(rewrite(original, replacements), mp.output, mp.source)
    except TpatError as exc:
        return ModelStatus("failed", error=str(exc), exception=exc), {}
    return ModelStatus("ok", output_sha256=files[Path(mp.output)].sha256), files


def load_resolved(spec_path: Path):
    from .spec import load_spec, resolve_spec

    return resolve_spec(load_spec(spec_path))


def apply_spec(spec_path: Path, jobs: int | None = None, frozen: bool = False, progress: bool = True,
               check_trt: bool = False, executor: str | None = None,
               scheduler_address: str | None = None) -> ApplyResult:
    """`executor` ("local" | "dask"), `scheduler_address` and `jobs` override the spec's `executor`."""
    from .executor.choice import choose
    from .manifest import MANIFEST_NAME, RUN_RECORD_NAME, check_frozen, manifest_data, read_manifest, write_yaml

    started = datetime.now(timezone.utc)
    resolved = load_resolved(Path(spec_path))
    choice = choose(resolved.executor, executor, scheduler_address, jobs)
    plan, headers = make_plan(resolved, jobs=choice.jobs, check_trt=check_trt)
    manifest_path = plan.output_dir / MANIFEST_NAME
    recorded = read_manifest(manifest_path) if frozen else None
    if frozen:
        check_frozen(plan, recorded, manifest_path)
    if log.isEnabledFor(logging.DEBUG):  # -v: why each task reruns (hashing the cache entries costs time)
        from .manifest.lock import run_reason

        before = recorded if frozen else read_manifest(manifest_path)
        for (name, stage), state in task_states(plan).items():
            log.debug("%s %s: %s", stage, name, run_reason(plan, name, stage, state, before))

    def check(result: ApplyResult) -> None:  # before any output is written
        _check_outputs_unchanged(recorded, manifest_data(plan, result), manifest_path)

    result = run_plan(plan, headers, progress, before_writing=check if frozen else None, executor=choice)
    if not frozen:
        write_yaml(manifest_path, manifest_data(plan, result))  # after check-trt: its verdicts are recorded
    write_yaml(plan.output_dir / RUN_RECORD_NAME, {
        "started": started.isoformat(timespec="seconds"), "seconds": round(result.seconds, 3),
        "tasks_run": [f"{s} {n} ({result.chains[n].seconds.get(s, 0):.2f}s)" for n, s in result.ran],
        "tasks_cached": len(result.cached)})
    return result


def _check_outputs_unchanged(old: dict, new: dict, path: Path) -> None:
    """--frozen: every artefact and every output model must come out byte for byte as recorded."""
    drift = [f"{name}: {rel}" for name, p in new["plugins"].items()
             for rel, sha in p["artifacts"].items() if old["plugins"].get(name, {}).get("artifacts", {}).get(rel) != sha]
    recorded_models = {m["output"]: m.get("output_sha256") for m in old["models"]}
    drift += [f"model {m['output']}" for m in new["models"]
              if m.get("output_sha256") and recorded_models.get(m["output"]) != m["output_sha256"]]
    if drift:
        raise TpatError(f"--frozen: rebuilt outputs differ from {path} (nothing was written):\n  " + "\n  ".join(drift),
                        hint="the toolchain is not reproducing the recorded bytes; rebuild without --frozen")
