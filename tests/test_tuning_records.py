"""Tuned plugins rebuild from their records on a CPU machine: no GPU, no re-tuning, byte-identical sources.

The records here are made offline (a hand-written schedule committed to a meta_schedule JSON database, exactly
what a tuning run on a GPU writes), so the test runs in CI; the GPU tuning run itself is in benchmarks/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx

from tpat.workflow import apply_spec, load_resolved, make_plan
from workflow_helpers import erf_model, tpat_cli, write_spec

THREADS = 128  # the default schedule uses 1024 threads per block: the tuned kernels are told apart by this


def _records(plugin, folder: Path, key: str) -> None:
    import tvm
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

    from tpat.stages.lower import _import, bind_dims, fused, target_for
    from tpat.stages.tune import bucket_of

    target = target_for(min(plugin.arch))
    mod = fused(bind_dims(_import(onnx.load_from_string(plugin.subgraph), plugin.signature, "x"),
                          bucket_of(plugin.signature)), target)
    (func,) = [f for f in mod.functions.values() if isinstance(f, tvm.tirx.PrimFunc)]
    workload = _normalize_mod(func)
    sch = tvm.s_tir.Schedule(workload)
    (block,) = sch.get_child_blocks(sch.get_sblock("root"))
    bx, tx = sch.split(sch.fuse(*sch.get_loops(block)), [None, THREADS])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    folder.mkdir(parents=True)
    db = ms.database.JSONDatabase(work_dir=str(folder))
    entry = db.commit_workload(workload)
    db.commit_tuning_record(ms.database.TuningRecord(sch.trace, entry, [1e-6], target,
                                                     ms.arg_info.ArgInfo.from_prim_func(func)))
    (folder / "tune.json").write_text(json.dumps({"key": key, "trials": plugin.trials}))


def test_rebuild_from_records_reproduces_tuned_sources(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(64)}, {"op_types": ["Erf"]}, cache,
                      defaults={"tuning": {"trials": 16}})
    plan_text = tpat_cli("plan", str(spec)).stdout
    assert "tune skipped: 16 trials asked, but no GPU here and no records" in plan_text

    resolved = load_resolved(spec)
    plan, _ = make_plan(resolved)
    plan.gpu = "any GPU"  # plan as a GPU machine would, to learn the tune key its records carry
    from tpat.plan.build import _tune_task

    plugin = plan.plugins["tpat_erf"]
    key = _tune_task(plan, plugin)
    out = tmp_path / "w" / "out"
    _records(plugin, out / "trt_plugin" / "tuning" / "tpat_erf", key)

    result = apply_spec(spec, progress=False)
    assert not result.failed_models
    assert ("tpat_erf", "tune") in result.ran, "records beside the outputs are imported as the tune task"
    src = out / "trt_plugin" / "src"
    sources = {p.name: p.read_bytes() for p in sorted(src.iterdir())}
    assert {"tpat_erf_kernels.cu", "tpat_erf_kernels_v0.cu", "tpat_erf_kernels_v1.cu"} <= set(sources)
    assert f"__launch_bounds__({THREADS})".encode() in sources["tpat_erf_kernels_v1.cu"]
    assert b"__launch_bounds__(1024)" in sources["tpat_erf_kernels_v0.cu"]
    assert b"if (dims[0] == 8)" in sources["tpat_erf_kernels.cu"], "dispatch on the opt batch"
    assert (out / "trt_plugin" / "lib" / "libtpat_erf_kernels.so").is_file()
    manifest = (out / "tpat.lock.yaml").read_text()
    assert "records: trt_plugin/tuning/tpat_erf" in manifest and key in manifest

    shutil.rmtree(cache)  # a fresh CPU machine with only the outputs (records included) checked in
    shutil.rmtree(src)
    again = apply_spec(spec, progress=False)
    assert ("tpat_erf", "tune") in again.ran and not again.failed_models
    assert {p.name: p.read_bytes() for p in sorted(src.iterdir())} == sources
    assert (out / "tpat.lock.yaml").read_text() == manifest
