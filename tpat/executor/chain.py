"""One plugin's task chain. Every task reads only its inputs and writes only its cache entry (a temp folder that
the store renames into place), so chains of different plugins run in parallel processes safely, and a killed run
leaves only complete entries behind: the next run redoes just what is missing.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import onnx

from ..cache import CacheStore
from ..plan.model import PluginPlan

Event = Callable[[str, str, str], None]  # (plugin, stage, status)


@dataclass
class ChainResult:
    plugin: str
    entries: dict[str, str] = field(default_factory=dict)  # stage -> entry folder
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    traceback: str | None = None  # set when the failure is a bug in tpat (not a TpatError): exit 70
    exception: Exception | None = field(default=None, repr=False)  # kept in-process only (not pickled back)

    def __getstate__(self):
        return {**self.__dict__, "exception": None}

    @property
    def internal(self) -> bool:
        return self.traceback is not None

    def raise_error(self) -> None:
        """Raise what failed: the user's error as itself, a bug as an InternalError with its traceback."""
        from ..errors import InternalError, TpatError

        if self.internal:
            raise InternalError(f"{self.failed_stage} of plugin {self.plugin}: {self.error}", self.traceback or "")
        raise self.exception or TpatError(self.error or "failed")


def run_chain(p: PluginPlan, cache_root: Path, trt_include: str | None, event: Event | None = None) -> ChainResult:
    from ..errors import TpatError

    cache = CacheStore(cache_root)
    result = ChainResult(p.name)
    steps = [("tune", _tune), ("lower", _lower), ("codegen", _codegen), ("build", _build), ("validate", _validate)]
    for stage, body in steps:
        spec = p.tasks.get(stage)
        if spec is None:
            continue
        if event:
            event(p.name, stage, "start")
        start = time.perf_counter()
        try:
            entry, built = cache.put(stage, spec.key, lambda tmp, body=body: body(p, tmp, result, trt_include))
        except TpatError as exc:
            result.error, result.failed_stage, result.exception = str(exc), stage, exc
            if event:
                event(p.name, stage, "failed")
            return result
        except Exception as exc:  # a bug, but one plugin must not take the other models down with it
            result.error, result.failed_stage = f"internal error: {type(exc).__name__}: {exc}", stage
            result.traceback = traceback.format_exc()
            if event:
                event(p.name, stage, "failed")
            return result
        result.entries[stage] = str(entry)
        if built:
            result.ran.append(stage)
            result.seconds[stage] = time.perf_counter() - start
        else:
            result.cached.append(stage)
        if event:
            event(p.name, stage, "done" if built else "cached")
        if stage == "validate" and not json.loads((entry / "report.json").read_text())["passed"]:
            result.error, result.failed_stage = "validation failed: outputs differ from onnxruntime", stage
            return result
    return result


def _tune(p: PluginPlan, tmp: Path, result: ChainResult, trt_include) -> dict:
    """Import the records kept beside the outputs (no GPU needed), or search on this machine's GPU."""
    import shutil

    from ..stages.tune import RECORD_FILES, tune

    key = p.tasks["tune"].key
    if p.records_dir:
        for name in (*RECORD_FILES, "tune.json"):
            shutil.copyfile(Path(p.records_dir) / name, tmp / name)
        return {"imported": True}
    summary = tune(onnx.load_from_string(p.subgraph), p.signature, p.lowering_arch, p.trials, tmp,
                   what=p.describe_node())
    (tmp / "tune.json").write_text(json.dumps({**summary, "key": key}, indent=1, sort_keys=True))
    return {"imported": False, "seconds": summary["seconds"]}


def _lower(p: PluginPlan, tmp: Path, result: ChainResult, trt_include) -> dict:
    from ..stages.lower import lower, write_lowered
    from ..stages.tune import bucket_of

    subgraph = onnx.load_from_string(p.subgraph)
    records = result.entries.get("tune")
    what = p.describe_node()
    if records and not p.signature.dims:  # a fixed-shape plugin: the tuned kernels are the only ones
        lowered = lower(subgraph, p.signature, arch=p.lowering_arch, what=what, database_dir=records)
    else:
        lowered = lower(subgraph, p.signature, arch=p.lowering_arch, what=what)
    write_lowered(lowered, tmp)
    kernels = [k.name for k in lowered.plan.kernels]
    if records and p.signature.dims:  # symbolic kernels for the range + tuned kernels for the bucket
        bucket = bucket_of(p.signature)
        tuned = lower(subgraph, p.signature, arch=p.lowering_arch, what=what, database_dir=records, bucket=bucket)
        write_lowered(tuned, tmp, prefix="b_")
        (tmp / "bucket.json").write_text(json.dumps(bucket, sort_keys=True))
    (tmp / "subgraph.onnx").write_bytes(p.subgraph)
    return {"kernels": kernels}


def _codegen(p: PluginPlan, tmp: Path, result: ChainResult, trt_include) -> dict:
    from ..cache.keys import tvm_version
    from ..stages import codegen
    from ..stages.lower import read_lowered

    entry = Path(result.entries["lower"])
    lowered = read_lowered(entry)
    if (entry / "bucket.json").is_file():
        bucket = json.loads((entry / "bucket.json").read_text())
        ctx, files = codegen.render_tuned_kernels(p.name, lowered, [(bucket, read_lowered(entry, "b_"))],
                                                  list(p.arch), tvm_version())
    else:
        ctx = codegen.context(p.name, lowered, list(p.arch), tvm_version(), tuned="tune" in result.entries)
        files = codegen.render_kernels(ctx)
    if trt_include:
        files.update(codegen.render_plugin(ctx))
    for name, text in files.items():
        (tmp / name).write_text(text)
    return {"files": sorted(files)}


def _build(p: PluginPlan, tmp: Path, result: ChainResult, trt_include) -> dict:
    from ..stages import build

    src = Path(result.entries["codegen"])
    builds = [build.build_kernels(src, p.name, list(p.arch), tmp)]
    if trt_include:
        builds.append(build.build_plugin(src, p.name, list(p.arch), tmp, Path(trt_include)))
    return {"builds": [{"output": b.output.name, "flags": _portable_flags(b.command)} for b in builds]}


def _portable_flags(command: list[str]) -> list[str]:
    """nvcc's flags without machine-specific paths (cache folders, the headers' location), for the manifest."""
    flags, args = [], iter(command[1:])
    for arg in args:
        if arg in ("-o", "-I", "-isystem"):
            next(args, None)  # the path that follows
            continue
        flags.append(Path(arg).name if arg.endswith(".cu") else arg)
    return flags


def _validate(p: PluginPlan, tmp: Path, result: ChainResult, trt_include) -> dict:
    from ..stages.lower import read_lowered
    from ..stages.validate import validate

    lowered = read_lowered(result.entries["lower"])
    lib = Path(result.entries["build"]) / f"lib{p.name}_kernels.so"
    reference = onnx.load_from_string(p.reference) if p.reference else None
    report = validate(p.name, lib, onnx.load_from_string(p.subgraph), lowered.signature,
                      tolerances=dict(p.tolerance), reference_model=reference)
    (tmp / "report.json").write_text(json.dumps(report.to_json(), indent=1, sort_keys=True))
    return {"passed": report.passed}
