"""CPU mode: each case through tpat's normal pipeline (spec -> planner: extract -> executor: lower, codegen, build
-> rewrite), in worker processes, with the stage that failed and why; what converted goes into a bundle.

A case is one model and one spec, planned and run exactly as `tpat apply` would (`tpat.workflow`), so a case that
passes here passes there. Failures are sorted by what they are: a `TpatError` is a refusal the user can act on
(its message must name the node, its op type and the cause: `clear`), anything else is a bug in tpat (`internal`,
with the traceback), and a worker that died or hung is `crashed`.

The bundle (`<bundle>/<case>/`) holds what `gpu_check` needs on a GPU machine without TVM, and nothing else (it
travels): the plugin's `trt_plugin/lib` and `meta` (kernels library, signature; the sources stay in the task
cache), the case's data (`case/`), and `conformance.json` (which graph input feeds which plugin input, the casts
around the plugin).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .cases import Case

BUNDLE_FILE = "conformance.json"
# Double has no TensorRT type: the way out tpat offers (dtype: fp32, Casts around the plugin) is what runs it.
POLICY_FOR = {"double": "fp32"}


@dataclass
class CaseResult:
    case: str
    op_type: str
    dtype: str
    status: str  # built | failed | skipped | crashed
    stage: str | None = None  # where it failed: case, spec, plan, extract, lower, codegen, build, rewrite, worker
    error: str | None = None
    internal: bool = False  # not a TpatError: a bug in tpat
    clear: bool = True  # a refusal whose message names the node, the op type and the cause
    traceback: str | None = None
    policy: str = "keep"
    multi_output: bool = False
    plugin: str | None = None
    seconds: float = 0.0
    stages: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}) or k == "status"}


@dataclass(frozen=True)
class Job:
    """What a worker needs for one case (plain data: it crosses a process boundary)."""

    folder: str
    meta: dict
    bundle: str
    cache_dir: str
    arch: tuple[str, ...]
    plugin_library: bool  # also build the IPluginV3 library (needs TensorRT headers here)


def policy_for(case: Case) -> str:
    return POLICY_FOR.get(case.dtype, "keep")


def run_cases(cases: list[Case], bundle: Path, cache_dir: Path, jobs: int = 2, arch: tuple[str, ...] = ("sm_90",),
              plugin_library: bool = True, timeout_s: float = 600, progress=None) -> list[CaseResult]:
    """Every case through the pipeline, `jobs` at a time; results in case order. `progress(result)` after each."""
    from .pool import results_by_key

    bundle = Path(bundle).resolve()
    bundle.mkdir(parents=True, exist_ok=True)
    results: dict[str, CaseResult] = {}
    work = []
    for c in cases:
        if c.skip:
            results[c.name] = CaseResult(c.name, c.op_type, c.dtype, "skipped", "case", c.skip)
            if progress:
                progress(results[c.name])
        else:
            work.append((c.name, Job(str(c.folder), c.meta, str(bundle), str(cache_dir), tuple(arch),
                                     plugin_library)))
    by_name = {c.name: c for c in cases}

    def lost(name: str, why: str) -> CaseResult:
        c = by_name[name]
        return CaseResult(name, c.op_type, c.dtype, "crashed", "worker", f"{why} while converting", internal=True,
                          clear=False, policy=policy_for(c), multi_output=c.multi_output)

    results.update(results_by_key(convert_case, work, jobs, timeout_s, lost, progress))
    return [results[c.name] for c in cases]


def convert_case(job: Job) -> CaseResult:
    """One case through spec -> plan -> tasks -> rewrite; never raises (a bug is reported as `internal`)."""
    case = Case(Path(job.folder), job.meta)
    policy = policy_for(case)
    out = Path(job.bundle) / case.name
    shutil.rmtree(out, ignore_errors=True)
    result = CaseResult(case.name, case.op_type, case.dtype, "failed", policy=policy,
                        multi_output=case.multi_output)
    start = time.perf_counter()
    stage = "spec"
    try:
        from ..errors import TpatError

        try:
            resolved = _resolved(case, out, job, policy)
            stage = "plan"
            plan, headers = _plan(resolved, out / "trt_plugin", job.plugin_library)
            (mp,) = plan.models
            if mp.exception is not None or mp.error:
                stage = "extract"
                raise mp.exception or TpatError(mp.error)
            from ..workflow import run_plan

            stage = "run"
            applied = run_plan(plan, headers, progress=False)
        except TpatError as exc:
            return _failed(result, stage, exc, case, start)
        ((node, name),) = mp.nodes
        chain = applied.chains[name]
        result.plugin, result.stages = name, {s: round(t, 2) for s, t in chain.seconds.items()}
        if chain.error:
            result.stage, result.error = chain.failed_stage, chain.error
            result.internal, result.traceback = chain.internal, chain.traceback
            result.clear = not chain.internal and is_clear(chain.error, case)
        elif applied.model_status[mp.index].state != "ok":
            result.stage, result.error = "rewrite", applied.model_status[mp.index].error
            result.clear = is_clear(result.error or "", case)
        else:
            result.status = "built"
            _bundle_case(case, out, node, name, policy)
    except Exception as exc:  # a bug in tpat outside a task (planning, rewriting): the census goes on
        result.stage, result.error = stage, f"internal error: {type(exc).__name__}: {exc}"
        result.internal, result.clear, result.traceback = True, False, traceback.format_exc()
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _failed(result: CaseResult, stage: str, exc, case: Case, start: float) -> CaseResult:
    result.stage, result.error, result.clear = stage, str(exc), is_clear(str(exc), case)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


_USELESS = re.compile(r"^[A-Za-z.]*(Error|Exception)$|^'[^']*'$|lines skipped|Index out of range")


def is_clear(message: str, case: Case) -> bool:
    """A refusal a user can act on names the node and its op type, then says what went wrong: not a bare exception
    name, a bare key, "Index out of range" or a truncated log."""
    first = message.splitlines()[0] if message else ""
    if case.node_name not in first or case.op_type not in first:
        return False
    at = first.find(f"({case.op_type})")
    cause = first[at + len(case.op_type) + 2:].lstrip(" :") if at >= 0 else first
    return len(cause) >= 12 and not _USELESS.search(cause) and "lines skipped" not in message


def _resolved(case: Case, out: Path, job: Job, policy: str):
    from ..spec import resolve_spec, spec_from_data

    data = {"version": 1, "output_dir": str(out), "cache_dir": job.cache_dir,
            "defaults": {"arch": list(job.arch), "dtype": policy, "validate": False},
            "models": [{"path": str(case.model_path), "glob": False, "output": str(out / "model.tpat.onnx"),
                        "targets": {"nodes": [case.node_name]}}]}
    return resolve_spec(spec_from_data(data, f"conformance case {case.name}"))


def _plan(resolved, plugin_dir: Path, plugin_library: bool):
    """The task graph as `tpat apply` plans it; without `plugin_library` planned as on a machine without TensorRT
    headers (keys included, so no cache entry claims a library it lacks)."""
    from ..workflow import make_plan

    if plugin_library:
        return make_plan(resolved, plugin_dir=plugin_dir, jobs=1)
    from ..planner import build_task_graph

    return build_task_graph(resolved, plugin_dir, None, None, 1), None


def _bundle_case(case: Case, out: Path, node, plugin: str, policy: str) -> None:
    """The case's data and the plugin's wiring beside its trt_plugin/ folder (the GPU check reads only these)."""
    data = out / "case"
    data.mkdir(parents=True, exist_ok=True)
    for f in case.folder.iterdir():
        if f.suffix in (".pb", ".json", ".onnx"):
            shutil.copy2(f, data / f.name)
    (out / "model.tpat.onnx").unlink(missing_ok=True)  # the rewritten model: checked by the run, not needed after
    # the sources stay in the task cache: a bundle carries only what the GPU check loads (64 MiB carry limits)
    shutil.rmtree(out / "trt_plugin" / "src", ignore_errors=True)
    wiring = {"case": case.name, "op_type": case.op_type, "dtype": case.dtype, "plugin": plugin, "policy": policy,
              "inputs": list(node.inputs), "outputs": list(node.outputs), "folded": list(node.folded),
              "input_casts": [list(c) for c in node.input_casts], "output_casts": [list(c) for c in node.output_casts]}
    (out / BUNDLE_FILE).write_text(json.dumps(wiring, indent=1, sort_keys=True))
