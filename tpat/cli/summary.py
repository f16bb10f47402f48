"""Rendering of plans and apply results: rich trees/tables for people, JSON for tools."""

from __future__ import annotations

import os

from ..manifest.lock import run_reason
from ..planner.task_graph import STAGES, TaskGraph


def _console():
    """Rich output; into a pipe or file, lines are never cut at 80 columns (an error must arrive whole)."""
    import sys

    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)


def reuse_of(plan: TaskGraph) -> dict[str, int]:
    return {name: len(p.nodes) for name, p in plan.plugins.items() if len(p.nodes) > 1}


def plan_json(plan: TaskGraph, states: dict, manifest: dict | None) -> dict:
    return {
        "spec": str(plan.spec_file) if plan.spec_file else None,
        "output_dir": str(plan.output_dir),
        "cache_dir": str(plan.cache_dir),
        "versions": plan.versions,
        "gpu": plan.gpu,
        "warnings": plan.warnings,
        "models": [{"path": str(m.source), "output": str(m.output), "error": m.error,
                    "nodes": [{"node": n.node_name, "op_type": n.op_type, "plugin": name} for n, name in m.nodes]}
                   for m in plan.models],
        "plugins": {name: {"op_type": p.op_type, "nodes": len(p.nodes),
                           "tasks": [{"stage": s, "key": p.tasks[s].key,
                                      "status": run_reason(plan, name, s, states[(name, s)], manifest)}
                                     for s in STAGES if s in p.tasks]}
                    for name, p in plan.plugins.items()},
        "summary": {"plugins": len(plan.plugins), "tasks": len(states),
                    "cached": sum(v == "cached" for v in states.values()),
                    "to_run": sum(v == "run" for v in states.values()), "reused": reuse_of(plan)},
    }


def print_plan(plan: TaskGraph, states: dict, manifest: dict | None) -> None:
    from rich.tree import Tree

    cached = sum(v == "cached" for v in states.values())
    title = (f"plan: {len(plan.models)} models, {len(plan.plugins)} plugins, {len(states)} tasks "
             f"({cached} cached, {len(states) - cached} to run)")
    tree = Tree(title)
    shown: set[str] = set()
    for m in plan.models:
        branch = tree.add(f"model {_short(m.source)} -> {_short(m.output)}")
        if m.error:
            branch.add(f"[red]error[/red]: {m.error}")
            continue
        for n, name in m.nodes:
            p = plan.plugins[name]
            if name in shown:
                branch.add(f"node {n.node_name!r} ({n.op_type}) -> plugin {name} (reused)")
                continue
            shown.add(name)
            reuse = f", serves {len(p.nodes)} nodes" if len(p.nodes) > 1 else ""
            leaf = branch.add(f"node {n.node_name!r} ({n.op_type}) -> plugin {name}{reuse}")
            for s in STAGES:
                if s in p.tasks:
                    leaf.add(f"{s:8} {run_reason(plan, name, s, states[(name, s)], manifest)}  {p.tasks[s].key[:12]}")
            if p.validate and "validate" not in p.tasks:
                leaf.add("validate skipped (no GPU here)")
            for note in p.notes:
                leaf.add(note)
    console = _console()
    console.print(tree)
    _print_warnings(console, plan)


def print_apply_summary(result) -> None:
    from rich.table import Table

    plan = result.plan
    table = Table(title=f"tpat apply: {len(plan.models)} models, {len(plan.plugins)} plugins")
    for col in ("model", "status", "plugins", "output / error"):
        table.add_column(col, overflow="fold")
    for m in plan.models:
        st = result.model_status[m.index]
        plugins = ", ".join(dict.fromkeys(name for _, name in m.nodes))
        table.add_row(_short(m.source), "[green]ok[/green]" if st.state == "ok" else "[red]FAILED[/red]", plugins,
                      _short(m.output) if st.state == "ok" else st.error)
    console = _console()
    console.print(table)
    for name, v in result.validation.items():
        verdict = "valid" if v["passed"] else "INVALID"
        worst = max((p["max_abs_err"] for p in v["points"]), default=0)
        console.print(f"plugin {name}: {verdict} at {[p['dims'] for p in v['points']]}, max abs err {worst:.2g}")
    for m in plan.models:
        whole = result.model_status[m.index].model_check
        if whole is not None:
            worst = max((p["max_abs_err"] for p in whole.get("points", ())), default=0)
            verdict = f"matches the original, max abs err {worst:.2g}" if whole["passed"] else "DIFFERS"
            console.print(f"whole model {_short(m.output)}: {verdict}")
        check = result.model_status[m.index].trt_check
        if check is not None:
            verdict = f"engine built, {check.get('engine_bytes')} bytes" if check["ok"] else "FAILED"
            console.print(f"check-trt {_short(m.output)}: {verdict}")
    reused = reuse_of(plan)
    if reused:
        console.print("reuse: " + ", ".join(f"{k} serves {n} nodes" for k, n in reused.items()))
    counts = tasks_count(result)
    console.print(f"tasks: {counts}; manifest {plan.output_dir / 'tpat.lock.yaml'}")
    _print_warnings(console, plan)


def tasks_count(result) -> str:
    """`3 ran, 2 cached, 1 failed, 1 not run`: a failed task, or one after it in its chain, is not 'cached'."""
    ran, cached, failed = len(result.ran), len(result.cached), len(result.failed)
    skipped = len(result.plan.tasks()) - ran - cached - failed
    parts = [f"{ran} ran", f"{cached} cached"] + [f"{failed} failed"] * bool(failed) + [f"{skipped} not run"] * bool(skipped)
    return ", ".join(parts)


def _print_warnings(console, plan: TaskGraph) -> None:
    """Last, where a reader of the summary sees them (stderr had them before the work began)."""
    from rich.markup import escape

    for warning in plan.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}")


def _short(path) -> str:
    from ..examples import builtin_name

    name = builtin_name(path)
    if name:
        return f"builtin:{name}"
    try:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("../..") else str(path)
    except ValueError:
        return str(path)
