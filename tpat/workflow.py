"""`tpat apply` / `tpat plan` / `onnx2plugin`: plan, run the tasks through the cache, place the outputs, rewrite
the models, write the manifest. A failing model is reported without losing the others' results.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .cache import CacheStore
from .errors import TpatError
from .executor.chain import ChainResult
from .plan.model import Plan


@dataclass
class ModelStatus:
    state: str  # ok | failed
    output_sha256: str | None = None
    error: str | None = None
    trt_check: dict | None = None  # TensorRT-RTX parser/builder result, when requested
    exception: Exception | None = field(default=None, repr=False)  # the rewrite's error, for the Python API


@dataclass
class ApplyResult:
    plan: Plan
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


def gpu_fingerprint() -> str | None:
    from .gpu.cudart import device_fingerprint

    return device_fingerprint()


def make_plan(resolved, plugin_dir: Path | None = None, jobs: int | None = None, check_trt: bool = False):
    """(plan, TensorRT headers or None) for a resolved spec."""
    from .plan import build_plan
    from .trt.headers import find_headers

    headers = find_headers()
    wants_gpu = any(m.validate or m.trials or any(m.per_op_trials.values()) for m in resolved.models)
    gpu = gpu_fingerprint() if wants_gpu else None
    plugin_dir = plugin_dir or resolved.output_dir / "trt_plugin"
    plan = build_plan(resolved, plugin_dir, headers.version_str if headers else None, gpu, jobs, check_trt)
    return plan, headers


def task_states(plan: Plan) -> dict[tuple[str, str], str]:
    cache = CacheStore(plan.cache_dir)
    return {(p.name, t.stage): ("cached" if cache.has(t.stage, t.key) else "run") for p, t in plan.tasks()}


def run_plan(plan: Plan, headers, progress: bool = True) -> ApplyResult:
    from .executor.local import execute
    from .executor.materialize import materialize
    from .executor.progress import Progress

    start = time.perf_counter()
    result = ApplyResult(plan)
    reporter = Progress(len(plan.tasks()), enabled=progress)
    try:
        result.chains = execute(plan, headers.include_dir if headers else None, plan.jobs, reporter)
    finally:
        reporter.close()
    result.commands = _commands(plan)
    for name, p in plan.plugins.items():
        chain = result.chains[name]
        if chain.error is None or chain.failed_stage == "validate":
            first = result.commands.get(p.nodes[0].model)  # ready commands for the first model using it
            result.artifacts[name] = materialize(p, chain, plan.plugin_dir, {"commands": first} if first else None)
        if "validate" in chain.entries:
            report = json.loads((Path(chain.entries["validate"]) / "report.json").read_text())
            result.validation[name] = _validation_summary(report)
    for mp in plan.models:
        result.model_status[mp.index] = status = _rewrite_model(plan, mp, result.chains)
        if mp.check_trt and status.state == "ok":
            _check_trt(plan, mp, status)
    result.seconds = time.perf_counter() - start
    return result


def _commands(plan: Plan) -> dict[int, dict]:
    """trtexec/Polygraphy lines per model, relative to the output folder (docs/tensorrt.md explains them)."""
    from .trt.commands import model_commands

    out = {}
    for mp in plan.models:
        if mp.error or not mp.nodes:
            continue
        names = list(dict.fromkeys(name for _, name in mp.nodes))
        libs = [plan.plugin_dir / "lib" / f"{n}.so" for n in names]
        dims = [d for n in names for d in plan.plugins[n].signature.dims]
        try:
            out[mp.index] = model_commands(mp.source, mp.output, libs, dims, base=plan.output_dir)
        except Exception as exc:  # a convenience: never fail a conversion over it
            out[mp.index] = {"notes": [f"commands unavailable: {exc}"]}
    return out


def _check_trt(plan: Plan, mp, status: ModelStatus) -> None:
    """The after-build stage: TensorRT-RTX registers the plugins, parses the model, builds the engine."""
    from .trt.rtx import check_trt

    try:
        report = check_trt(mp.output, plan.plugin_dir, cache_dir=plan.cache_dir)
    except TpatError as exc:
        status.state, status.error = "failed", f"check-trt: {exc}"
        status.trt_check = {"ok": False, "error": str(exc).splitlines()[0]}
        return
    status.trt_check = {"ok": report.ok, "plan_bytes": report.plan_bytes}
    if not report.ok:
        status.state, status.error = "failed", f"check-trt: {report.summary()}"


def _validation_summary(report: dict) -> dict:
    return {"passed": report["passed"],
            "points": [{"dims": p["dims"], "max_abs_err": float(f"{p['max_abs_err']:.2g}"), "passed": p["passed"]}
                       for p in report["points"]],
            "out_of_range_refused": all(c["refused"] for c in report["range_checks"])}


def _rewrite_model(plan: Plan, mp, chains) -> ModelStatus:
    from .cache.keys import file_digest
    from .stages.model_io import load_model, save_model
    from .stages.rewrite import Replacement, rewrite

    if mp.error:
        return ModelStatus("failed", error=mp.error)
    broken = [f"{name}: {chains[name].failed_stage} failed: {chains[name].error}"
              for _, name in mp.nodes if chains[name].error]
    if broken:
        return ModelStatus("failed", error="; ".join(dict.fromkeys(broken)))
    try:
        original = load_model(mp.source)
        replacements = [Replacement(n.node_index, n.node_name, name, n.inputs, n.outputs, n.folded,
                                    input_casts=n.input_casts, output_casts=n.output_casts, fused=n.fused)
                        for n, name in mp.nodes]
        save_model(rewrite(original, replacements), mp.output, mp.source)
    except TpatError as exc:
        return ModelStatus("failed", error=str(exc), exception=exc)
    return ModelStatus("ok", output_sha256=file_digest(mp.output))


def load_resolved(spec_path: Path):
    from .spec import load_spec

    return load_spec(spec_path).resolve()


def apply_spec(spec_path: Path, jobs: int | None = None, frozen: bool = False, progress: bool = True,
               check_trt: bool = False) -> ApplyResult:
    from .manifest import MANIFEST_NAME, RUN_RECORD_NAME, check_frozen, manifest_data, read_manifest, write_yaml

    started = datetime.now(timezone.utc)
    resolved = load_resolved(Path(spec_path))
    plan, headers = make_plan(resolved, jobs=jobs, check_trt=check_trt)
    manifest_path = plan.output_dir / MANIFEST_NAME
    if frozen:
        check_frozen(plan, read_manifest(manifest_path), manifest_path)
    result = run_plan(plan, headers, progress)
    data = manifest_data(plan, result)
    if frozen:
        _check_artifacts(read_manifest(manifest_path), data, manifest_path)
    else:
        write_yaml(manifest_path, data)
    write_yaml(plan.output_dir / RUN_RECORD_NAME, {
        "started": started.isoformat(timespec="seconds"), "seconds": round(result.seconds, 3),
        "tasks_run": [f"{s} {n} ({result.chains[n].seconds.get(s, 0):.2f}s)" for n, s in result.ran],
        "tasks_cached": len(plan.tasks()) - len(result.ran)})
    return result


def _check_artifacts(old: dict, new: dict, path: Path) -> None:
    drift = [f"{name}: {rel}" for name, p in new["plugins"].items()
             for rel, sha in p["artifacts"].items() if old["plugins"].get(name, {}).get("artifacts", {}).get(rel) != sha]
    if drift:
        raise TpatError(f"--frozen: rebuilt artefacts differ from {path}:\n  " + "\n  ".join(drift),
                        hint="the toolchain is not reproducing the recorded bytes; rebuild without --frozen")

