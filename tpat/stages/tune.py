"""Tune: meta_schedule search for a static bucket of the dims (e.g. the opt batch), on a GPU with TVM.

The records (meta_schedule's JSON database) are the task's output: lowering with them (`lower(...,
database_dir=..., bucket=...)`) needs no GPU and reproduces the tuned CUDA byte for byte, so tuning runs where a
GPU is and every other machine rebuilds from the records. The launcher runs the tuned kernels when the runtime
dims equal the bucket and the symbolic (untuned) kernels for the rest of the range. A candidate that fails to
build or run is discarded by meta_schedule itself; it never aborts the search.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from pathlib import Path

import onnx

from ..errors import LoweringError
from ..ir.signature import Signature
from ..lowering.frontend import bind_dims, fused, import_onnx, target_for
from ..lowering.records import RECORD_FILES, bucket_of, keep_tuned

log = logging.getLogger(__name__)


def tune(subgraph: onnx.ModelProto, sig: Signature, arch: str, trials: int, work_dir: Path,
         bucket: dict[str, int] | None = None, seed: int = 0, what: str = "node") -> dict:
    """Search `trials` candidates over the bucket's PrimFuncs; writes the records into `work_dir` and returns a
    summary (the tune task stores it, with its key, as tune.json)."""
    from tvm.s_tir import meta_schedule as ms

    bucket = bucket_of(sig) if bucket is None else bucket
    mod, target = _workloads(subgraph, sig, arch, bucket, what)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        database = ms.relax_integration.tune_relax(
            mod, params={}, target=target, work_dir=str(work_dir), max_trials_global=trials,
            num_trials_per_iter=min(64, max(trials, 1)), seed=seed)
    except Exception as exc:
        raise LoweringError(f"tuning {what} failed: {str(exc).strip().splitlines()[-1][:300]}",
                            hint="set tuning.trials: 0 for this op to use the untuned schedules") from exc
    seconds = time.perf_counter() - start
    kernels = _compare_with_defaults(mod, database, target)
    summary = {"bucket": bucket, "trials": trials, "seconds": round(seconds, 1), "arch": arch, "kernels": kernels}
    shutil.rmtree(work_dir / "logs", ignore_errors=True)  # meta_schedule's own logs: large, not part of the records
    return summary


def run(p, workdir: Path, upstream) -> dict:
    """The tune task: import the records kept beside the outputs (no GPU needed), or search on this machine's GPU.
    Writes the records and tune.json (the summary, with the task's key) into `workdir`."""
    import json

    key = p.tasks["tune"].key
    if p.records_dir:
        for name in (*RECORD_FILES, "tune.json"):
            shutil.copyfile(Path(p.records_dir) / name, workdir / name)
        log.info("tune %s: records imported from %s", p.name, p.records_dir)
        return {"imported": True}
    summary = tune(onnx.load_from_string(p.subgraph), p.signature, p.lowering_arch, p.trials, workdir,
                   what=p.describe_node())
    (workdir / "tune.json").write_text(json.dumps({**summary, "key": key}, indent=1, sort_keys=True))
    log.info("tune %s: %d trials in %.0f s; kept %s", p.name, p.trials, summary["seconds"],
             sorted(k for k, v in summary["kernels"].items() if v["kept"]) or "no tuned kernel")
    return {"imported": False, "seconds": summary["seconds"]}


def _workloads(subgraph, sig, arch, bucket, what):
    """The fused module of the bucket (what meta_schedule tunes) and the target with its host."""
    import tvm

    target = tvm.target.Target(target_for(arch), host="llvm")
    return fused(bind_dims(import_onnx(subgraph, sig, what), bucket), target_for(arch)), target


def compare_records(subgraph: onnx.ModelProto, sig: Signature, records_dir: Path, what: str = "node") -> dict:
    """Measure tpat's default schedules against existing records (on a GPU) and write the verdicts into their
    tune.json: for records made before tune.json carried them, or after tpat's default schedules changed."""
    import json

    from tvm.s_tir import meta_schedule as ms

    records_dir = Path(records_dir)
    summary = json.loads((records_dir / "tune.json").read_text())
    mod, target = _workloads(subgraph, sig, summary["arch"], summary["bucket"], what)
    database = ms.database.JSONDatabase(work_dir=str(records_dir))
    summary["kernels"] = _compare_with_defaults(mod, database, target)
    summary.pop("best_us", None)  # superseded by kernels[*].tuned_us
    (records_dir / "tune.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    return summary


def _compare_with_defaults(mod, database, target) -> dict:
    """Per fused function: the best tuned time, the default schedule's time (same runner, same GPU) and whether
    the tuned schedule is kept. Search can end on a schedule slower than tpat's defaults (short rows, tiny
    launch-bound kernels); lowering then keeps the default for that function (`dropped_kernels`)."""
    from tvm import tirx
    from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

    kernels = {}
    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc):
            continue
        record = database.query_tuning_record(_normalize_mod(func), target, "main")  # keyed as tune_relax does
        tuned = _mean(record.run_secs) if record is not None else None
        if tuned is None:
            continue
        default = _measure_default(func, target)
        tuned_us, default_us = round(tuned * 1e6, 3), None if default is None else round(default * 1e6, 3)
        kernels[gv.name_hint] = {"tuned_us": tuned_us, "default_us": default_us,
                                 "kept": keep_tuned(tuned_us, default_us)}
    return dict(sorted(kernels.items()))


def _measure_default(func, target) -> float | None:
    """Seconds per run of `func` under tpat's default schedules, timed by meta_schedule's own builder and runner
    (None if it fails to build or run: the tuned schedule is then kept)."""
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.tune_context import _normalize_mod

    from ..schedules.pipeline import default_scheduled

    with target:
        scheduled = default_scheduled(_normalize_mod(func), {})
    try:
        builder, runner = _measurers()
        (built,) = builder.build([ms.builder.BuilderInput(scheduled, target)])
        if built.error_msg:
            return None
        args = ms.arg_info.ArgInfo.from_prim_func(func)
        (future,) = runner.run([ms.runner.RunnerInput(built.artifact_path, "cuda", args)])
        result = future.result()
        return None if result.error_msg else _mean(result.run_secs)
    except Exception:  # measuring is advisory: never fail the tuning over it
        return None


@functools.lru_cache(maxsize=1)
def _measurers():
    """One builder and one runner per process: each starts a pool of workers that import TVM (seconds apiece)."""
    from tvm.s_tir import meta_schedule as ms

    return ms.builder.LocalBuilder(timeout_sec=120), ms.runner.LocalRunner()


def _mean(costs) -> float | None:
    values = [float(getattr(c, "value", c)) for c in (costs or [])]
    return sum(values) / len(values) if values else None


