"""Build, write, read and check the manifest (`tpat.lock.yaml`) and the run record (`tpat.run.yaml`).

The manifest holds only what determines the outputs -- versions, input hashes, per plugin its source nodes,
signature, task keys with their named inputs, artefact hashes, tuning and validation results -- in a fixed order
with paths relative to the output folder, so two applies of the same inputs write identical bytes. Timestamps and
durations go to the run record beside it. `--frozen` recomputes the plan and refuses any drift from the manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ..errors import TpatError
from ..fsutil import atomic_write_text
from ..layout import MANIFEST_NAME, RUN_RECORD_NAME  # noqa: F401 (the manifest's names, re-exported)
from ..ir import expr as E
from ..planner.task_graph import TaskGraph

SCHEMA = 1


def _rel(path: Path, base: Path) -> str:
    """Paths as the manifest records them: relative to the output folder; builtin models by their name."""
    from ..examples import builtin_name

    name = builtin_name(Path(path))
    return f"builtin:{name}" if name else os.path.relpath(path, base)


def _signature(sig) -> dict:
    def shape(t):
        return "[" + ", ".join(E.to_str(s) for s in t.shape) + "]"

    return {
        "inputs": [f"{t.name}: {t.dtype.name}{shape(t)}" for t in sig.inputs],
        "outputs": [f"{t.name}: {t.dtype.name}{shape(t)}" for t in sig.outputs],
        "dims": {d.name: {"model_name": d.label, "min": d.min, "opt": d.opt, "max": d.max,
                          "from": f"input {d.input} axis {d.axis}"} for d in sig.dims},
    }


def manifest_data(plan: TaskGraph, outcome) -> dict:
    """`outcome` is the workflow's ApplyResult: model statuses, output hashes, artefact hashes, validation."""
    base = plan.output_dir
    models = []
    for mp in plan.models:
        status = outcome.model_status[mp.index]
        entry = {"path": _rel(mp.source, base), "sha256": mp.sha256, "output": _rel(mp.output, base),
                 "status": status.state}
        if status.output_sha256:
            entry["output_sha256"] = status.output_sha256
        if status.error:
            entry["error"] = status.error
        if status.trt_check is not None:
            entry["trt_check"] = status.trt_check
        if status.model_check is not None:
            entry["model_check"] = status.model_check
        entry["nodes"] = [{"node": n.node_name, "op_type": n.op_type, "plugin": name} for n, name in mp.nodes]
        if mp.index in outcome.commands and status.state == "ok":
            entry["commands"] = outcome.commands[mp.index]
        models.append(entry)
    plugins = {}
    for name, p in plan.plugins.items():
        result = outcome.chains.get(name)
        plugins[name] = {
            "op_type": p.op_type,
            "nodes": [{"model": _rel(plan.models[n.model].source, base), "node": n.node_name} for n in p.nodes],
            "signature": _signature(p.signature),
            "arch": list(p.arch),
            "tuning": _tuning(plan, p),
            "tasks": {s: {"key": t.key, "inputs": dict(sorted(t.inputs.items()))} for s, t in p.tasks.items()},
            "artifacts": dict(sorted(outcome.artifacts.get(name, {}).items())),
            "validation": outcome.validation.get(name) or {"status": _no_validation(plan, p)},
            "status": "failed" if result is None or result.error else "ok",
        }
        if result is not None and result.error:
            plugins[name]["error"] = f"{result.failed_stage}: {result.error}"
    data = {"schema": SCHEMA}
    if plan.spec_file is not None:  # the spec that owns this folder (another spec may not overwrite it)
        from ..planner.outputs_guard import spec_reference

        data["spec"] = spec_reference(plan.spec_file, base)
    return {**data, "versions": dict(sorted(plan.versions.items())), "models": models, "plugins": plugins}


def _tuning(plan: TaskGraph, p) -> dict:
    if "tune" not in p.tasks:
        return {"trials": p.trials, "records": None, **({"note": p.notes[0]} if p.notes else {})}
    from ..lowering.records import bucket_of

    records = plan.layout.tuning(p.name)
    return {"trials": p.trials, "bucket": bucket_of(p.signature), "records": _rel(records, plan.output_dir),
            "key": p.records_key}


def _no_validation(plan: TaskGraph, p) -> str:
    if not p.validate:
        return "disabled in the spec"
    return "not run: no GPU on this machine" if not plan.gpu else "not run"


def write_yaml(path: Path, data: dict) -> None:
    """The manifest and the run record: keys in the order given (stable diffs), written atomically."""
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120))


def read_manifest(path: Path) -> dict | None:
    if not Path(path).is_file():
        return None
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise TpatError(f"{path} is not valid YAML: {exc}", hint="delete it and run `tpat apply` again") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise TpatError(f"{path} is not a tpat manifest of schema {SCHEMA}",
                        hint="delete it and run `tpat apply` again")
    return data


def run_reason(plan: TaskGraph, plugin: str, stage: str, state: str, manifest: dict | None) -> str:
    """`cached`, or why the task would run: new, inputs changed (named), or missing from the cache."""
    if state == "cached":
        return "cached"
    task = plan.plugins[plugin].tasks[stage]
    before = ((manifest or {}).get("plugins", {}).get(plugin, {}).get("tasks", {}) or {}).get(stage)
    if before is None:
        return "run (new)"
    if before.get("key") != task.key:
        changed = sorted(k for k, v in task.inputs.items() if before.get("inputs", {}).get(k) != v)
        return f"run (changed: {', '.join(changed)})"
    return "run (not in cache)"


def check_frozen(plan: TaskGraph, manifest: dict | None, path: Path) -> None:
    """Refuse to run when anything that determines the outputs differs from the manifest."""
    if manifest is None:
        raise TpatError(f"--frozen: no manifest at {path}", hint="run `tpat apply` without --frozen once")
    drift = []
    for k, v in plan.versions.items():
        if manifest["versions"].get(k) != v:
            drift.append(f"version of {k}: {manifest['versions'].get(k)} -> {v}")
    recorded = {m["path"]: m for m in manifest["models"]}
    for mp in plan.models:
        path, output = _rel(mp.source, plan.output_dir), _rel(mp.output, plan.output_dir)
        before = recorded.get(path)
        if before is None:
            drift.append(f"model {path} is new")
        elif before["sha256"] != mp.sha256:
            drift.append(f"model {path} changed (sha256 {mp.sha256[:12]}, over the model and its external data)")
        elif before.get("output") != output:
            drift.append(f"model {path}: output {before.get('output')} -> {output}")
    for path in recorded.keys() - {_rel(mp.source, plan.output_dir) for mp in plan.models}:
        drift.append(f"model {path} is gone")
    old = manifest.get("plugins", {})
    for name, p in plan.plugins.items():
        if name not in old:
            drift.append(f"plugin {name} is new")
            continue
        for stage, t in p.tasks.items():
            before = old[name]["tasks"].get(stage)
            if before is None or before["key"] != t.key:
                changed = sorted(k for k, v in t.inputs.items() if (before or {}).get("inputs", {}).get(k) != v)
                drift.append(f"plugin {name} {stage}: inputs changed ({', '.join(changed) or 'new task'})")
    for name in old:
        if name not in plan.plugins:
            drift.append(f"plugin {name} is gone")
    if drift:
        raise TpatError("--frozen: the plan drifted from " + str(path) + ":\n  " + "\n  ".join(drift),
                        hint="review the changes, then run `tpat apply` without --frozen to update the manifest")


