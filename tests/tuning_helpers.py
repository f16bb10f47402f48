"""Tuning records made offline, as a GPU tuning run writes them, for tests that must run without a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import onnx


def write_records(plugin, folder: Path, key: str, threads: int) -> None:
    """A meta_schedule database holding one hand-made schedule (`threads` per block) for the plugin's bucket."""
    import tvm
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

    from tpat.lowering.frontend import target_for
    from tpat.lowering.records import bucket_of
    from tpat.stages.tune import _workloads

    target = target_for(plugin.lowering_arch)
    mod, _ = _workloads(onnx.load_from_string(plugin.subgraph), plugin.signature, plugin.lowering_arch,
                        bucket_of(plugin.signature), "x")
    (func,) = [f for f in mod.functions.values() if isinstance(f, tvm.tirx.PrimFunc)]
    workload = _normalize_mod(func)
    sch = tvm.s_tir.Schedule(workload)
    (block,) = sch.get_child_blocks(sch.get_sblock("root"))
    bx, tx = sch.split(sch.fuse(*sch.get_loops(block)), [None, threads])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    folder.mkdir(parents=True)
    db = ms.database.JSONDatabase(work_dir=str(folder))
    entry = db.commit_workload(workload)
    db.commit_tuning_record(ms.database.TuningRecord(sch.trace, entry, [1e-6], target,
                                                     ms.arg_info.ArgInfo.from_prim_func(func)))
    (folder / "tune.json").write_text(json.dumps({"key": key, "trials": plugin.trials}))


def planned_tune_key(resolved, plugin_dir: Path | None = None) -> tuple[object, str]:
    """(the single plugin's plan, its tune key) as a machine with a GPU would plan it: the key records carry."""
    from tpat.planner.build import _tune_task
    from tpat.workflow import make_plan

    plan, _ = make_plan(resolved, plugin_dir=plugin_dir, jobs=1)
    plan.gpu = "any GPU"
    (plugin,) = plan.plugins.values()
    return plugin, _tune_task(plan, plugin)
