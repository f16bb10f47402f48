"""`tpat plan config.yaml`: the task DAG that `tpat apply` would run, what is cached and what would run (and why)."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("plan", help="show the task DAG of a spec without running it", description=__doc__)
    p.add_argument("spec", type=Path, help="the YAML spec (see docs/spec.md)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(run=run, timing=False)


def run(args) -> int:
    from ..manifest import MANIFEST_NAME, read_manifest
    from ..workflow import load_resolved, make_plan, task_states
    from .summary import plan_json, print_plan

    plan, _ = make_plan(load_resolved(args.spec))
    states = task_states(plan)
    manifest = read_manifest(plan.output_dir / MANIFEST_NAME)
    if args.json:
        print(json.dumps(plan_json(plan, states, manifest), indent=2))
    else:
        print_plan(plan, states, manifest)
    return 1 if any(m.error for m in plan.models) else 0
