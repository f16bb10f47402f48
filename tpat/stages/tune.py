"""Tune: meta_schedule search for a static bucket of the dims (e.g. the opt batch), on a GPU with TVM.

The records (meta_schedule's JSON database) are the task's output: lowering with them (`lower(...,
database_dir=..., bucket=...)`) needs no GPU and reproduces the tuned CUDA byte for byte, so tuning runs where a
GPU is and every other machine rebuilds from the records. The launcher runs the tuned kernels when the runtime
dims equal the bucket and the symbolic (untuned) kernels for the rest of the range. A candidate that fails to
build or run is discarded by meta_schedule itself; it never aborts the search.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import onnx

from ..errors import LoweringError
from ..ir.signature import Signature

RECORD_FILES = ("database_workload.json", "database_tuning_record.json")


def bucket_of(sig: Signature) -> dict[str, int]:
    """The default bucket: every dynamic dim at its opt value."""
    return {d.name: d.opt for d in sig.dims}


def tune(subgraph: onnx.ModelProto, sig: Signature, arch: str, trials: int, work_dir: Path,
         bucket: dict[str, int] | None = None, seed: int = 0, what: str = "node") -> dict:
    """Search `trials` candidates over the bucket's PrimFuncs; writes the records into `work_dir` and returns a
    summary (the tune task stores it, with its key, as tune.json)."""
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from .lower import _import, bind_dims, fused, target_for

    bucket = bucket_of(sig) if bucket is None else bucket
    target = tvm.target.Target(target_for(arch), host="llvm")
    mod = fused(bind_dims(_import(subgraph, sig, what), bucket), target_for(arch))
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
    best = {}
    for record in database.get_all_tuning_records():
        name = str(record.workload.mod.get_global_vars()[0].name_hint) if record.workload else "?"
        costs = [float(getattr(c, "value", c)) for c in (record.run_secs or [])]
        if costs:
            best[name] = min(best.get(name, float("inf")), sum(costs) / len(costs))
    summary = {"bucket": bucket, "trials": trials, "seconds": round(seconds, 1), "arch": arch,
               "best_us": {k: round(v * 1e6, 3) for k, v in sorted(best.items())}}
    shutil.rmtree(work_dir / "logs", ignore_errors=True)  # meta_schedule's own logs: large, not part of the records
    return summary


def has_records(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in RECORD_FILES)
