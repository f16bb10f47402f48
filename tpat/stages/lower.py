"""Lower: standalone ONNX subgraph -> TVM-generated CUDA C + a launch plan read from the lowered IR.

How (verified on apache-tvm 0.27, see docs/architecture.md):
1. relax ONNX frontend, then the CUDA default pipeline's legalize passes (legalize, fuse, default GPU schedules:
   tpat's rules in `tpat/schedules`, then dlight's) -- the scheduled module is what `tvm.compile` turns into CUDA C;
2. dataflow lowering up to `StaticPlanBlockMemory`: `main` becomes a flat list of allocations and PrimFunc calls
   in execution order; planned storages are our workspace buffers (sizes are expressions of the dims);
3. the TIR pipeline up to `SplitHostDevice`: each host PrimFunc holds `call_ffi_kernel` calls whose launch
   arguments (grid, block, dynamic shared memory) and kernel arguments are read as expressions of the dims.
No dry run and no fork: the plan is valid for every dim value, which is what lets one kernel serve the range.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import onnx

from ..errors import LoweringError
from ..ir import expr as E
from ..ir.launch_plan import LaunchPlan
from ..ir.signature import Signature
from ..lowering.frontend import bind_dims, describe_node, fused, import_onnx, target_for
from ..lowering.lowered import Lowered, read_lowered, write_lowered
from ..lowering.records import bucket_of, dropped_kernels

log = logging.getLogger(__name__)
__all__ = ["Lowered", "lower", "read_lowered", "run", "write_lowered"]


def run(p, workdir: Path, upstream) -> dict:
    """The lower task: the symbolic kernels for the whole dim range (or, for a fixed-shape plugin with tuning
    records, the tuned ones), plus the tuned kernel set of the bucket when there are records for a dynamic one."""
    subgraph = onnx.load_from_string(p.subgraph)
    records = upstream.entries.get("tune")
    what = p.describe_node()
    fixed_and_tuned = records is not None and not p.signature.dims  # then the tuned kernels are the only ones
    lowered = lower(subgraph, p.signature, arch=p.lowering_arch, what=what,
                    database_dir=str(records) if fixed_and_tuned else None)
    write_lowered(lowered, workdir)
    kernels = [k.name for k in lowered.launch_plan.kernels]
    log.info("lower %s: %d kernel(s) for %s%s: %s", p.name, len(kernels), p.lowering_arch,
             ", tuned" if fixed_and_tuned else "", ", ".join(kernels))
    if records is not None and p.signature.dims:  # symbolic kernels for the range + tuned kernels for the bucket
        bucket = bucket_of(p.signature)
        tuned = lower(subgraph, p.signature, arch=p.lowering_arch, what=what, database_dir=str(records),
                      bucket=bucket)
        write_lowered(tuned, workdir, prefix="b_")
        (workdir / "bucket.json").write_text(json.dumps(bucket, sort_keys=True))
        log.info("lower %s: tuned kernel set for %s", p.name, bucket)
    (workdir / "subgraph.onnx").write_bytes(p.subgraph)
    return {"kernels": kernels}


def lower(subgraph: onnx.ModelProto, sig: Signature, arch: str = "sm_90", database_dir: str | None = None,
          what: str | None = None, bucket: dict[str, int] | None = None) -> Lowered:
    """Lower `subgraph` (inputs/outputs as in `sig`, dynamic dims named as `sig.dims`) for one CUDA arch.

    `database_dir`: a meta_schedule database (tuning records) to apply before the default schedules.
    `what`: how errors name the node (e.g. "node 'x' (OneHot) of model.onnx"); default: from the subgraph.
    `bucket`: dim values to specialise for (a tuned static bucket); the plan then has no dynamic expressions.
    """
    import tvm

    what = what or describe_node(subgraph)
    target = target_for(arch)
    mod = bind_dims(import_onnx(subgraph, sig, what), bucket or {})
    if bucket:
        sig = sig.specialize(bucket)
    try:
        with target:
            scheduled, planned = _schedule(mod, target, database_dir, {d.name: d.max for d in sig.dims})
        launches = _capture_host_device(planned, target)
        plan = _plan(planned, launches, sig, what)  # before codegen: explains unsupported programs best
        sig = _complete_outputs(mod, sig, what)
        # No kernel: every output is an input, a view of one or a constant, which the launcher copies
        cuda_source = _cuda_source(scheduled, target, what) if plan.kernels else ""
    except LoweringError:
        raise
    except Exception as exc:  # TVM raises its own error types; tvm_errors says which check or pass failed
        from ..lowering.tvm_errors import describe, raised_by_tpat

        if raised_by_tpat(exc):  # not TVM's limitation: a bug in tpat (exit 70, traceback with -v)
            raise
        raise LoweringError(
            f"TVM could not lower node {what}: {describe(exc)}",
            hint="this op/attribute combination is not supported by apache-tvm "
            f"{tvm.__version__}; leave the node to TensorRT or report it with the model attached",
        ) from exc
    missing = [k.name for k in plan.kernels if k.name not in cuda_source]
    if missing:
        raise LoweringError(f"node {what}: kernels {missing} are in the launch plan but not in TVM's CUDA source")
    return Lowered(cuda_source, plan, sig)


def _complete_outputs(mod, sig: Signature, what: str) -> Signature:
    """Fill output dims ONNX shape inference left unknown (-1) from TVM's shapes; check the known ones agree."""
    from dataclasses import replace

    from ..lowering import tvm_ir

    ret = mod["main"].ret_ty
    fields = getattr(ret, "fields", None) or [ret]
    names = {d.name: i for i, d in enumerate(sig.dims)}
    outputs = []
    for out, ty in zip(sig.outputs, fields):
        try:
            tvm_shape = [tvm_ir.to_expr(s, lambda v: E.Dim(names[v.name], v.name) if v.name in names else None)
                         for s in ty.shape.values]
        except (tvm_ir.UnsupportedExpr, AttributeError) as exc:
            raise LoweringError(f"node {what}: output {out.name} has a data-dependent shape ({exc})",
                                hint="plugins need output shapes computable from input shapes") from exc
        if len(tvm_shape) != out.rank and out.rank:
            raise LoweringError(f"node {what}: TVM gives output rank {len(tvm_shape)}, ONNX says {out.rank}")
        if out.rank:
            for a, b in zip(out.shape, tvm_shape):
                if a != -1 and a != b:
                    raise LoweringError(f"node {what}: output shape from TVM {[E.to_str(x) for x in tvm_shape]} "
                                        f"disagrees with ONNX {[E.to_str(x) for x in out.shape]}")
        outputs.append(replace(out, shape=tuple(tvm_shape)))
    return replace(sig, outputs=tuple(outputs))


def _schedule(mod, target, database_dir: str | None, dim_max: dict[str, int]):
    import tvm
    from tvm import relax
    from tvm.relax.backend.cuda import pipeline as cuda_pipeline

    from ..schedules.pipeline import default_scheduled

    mod = fused(mod, target)
    if database_dir:  # tuned: apply the records first; the default rules then schedule only what they do not cover
        unscheduled = mod
        mod = relax.transform.MetaScheduleApplyDatabase(work_dir=database_dir)(mod)
        for name in dropped_kernels(database_dir) & {gv.name_hint for gv in unscheduled.functions}:
            mod.update_func(mod.get_global_var(name), unscheduled[name])  # measured slower than the default
    scheduled = default_scheduled(mod, dim_max)
    planned = tvm.transform.Sequential(
        list(cuda_pipeline.dataflow_lower_passes(target)) + [relax.transform.StaticPlanBlockMemory()]
    )(scheduled)
    return scheduled, planned


def _capture_host_device(planned, target):
    """Run the TIR pipeline and keep the module right after SplitHostDevice (host funcs still have their params)."""
    import tvm
    from tvm import relax, tirx

    with_symbols = relax.transform.AttachGlobalSymbol()(planned)
    tmod = tvm.IRModule({gv: f for gv, f in with_symbols.functions.items() if isinstance(f, tirx.PrimFunc)})
    host_target = tvm.target.Target(target, host="llvm")
    tmod = tirx.transform.BindTarget(host_target)(tmod)
    pipeline, _, _ = tirx.get_default_tir_pipeline(host_target)
    captured = {}

    @tvm.instrument.pass_instrument
    class _Capture:
        def run_after_pass(self, module, info):
            if info.name == "tirx.SplitHostDevice":
                captured["mod"] = module

    with tvm.transform.PassContext(instruments=[_Capture()]):
        pipeline(tmod)
    if "mod" not in captured:
        raise LoweringError("TVM's TIR pipeline has no SplitHostDevice pass: unsupported TVM version")
    return captured["mod"]


def _cuda_source(scheduled, target, what: str) -> str:
    """TVM's CUDA for exactly the scheduled module the plan was read from: tvm.compile's default pipeline would
    legalize and fuse it again (ReduceL2's sum and sqrt became one kernel the plan did not launch). The TIR
    pipeline is TVM's default with tpat's pass in front of the device finalisation (`unpredicated_loads.py`): it
    changes loads inside kernels only, after SplitHostDevice, where `_capture_host_device` reads the plan."""
    import tvm
    from tvm.relax.backend.cuda import pipeline as cuda_pipeline

    from ..lowering.cuda_helpers import install
    from ..schedules.device_pipeline import register_pipeline

    install()  # tpat's CUDA helpers (atomics) in front of the kernels that call them

    @tvm.transform.module_pass(opt_level=0)
    def lower_only(mod, _ctx):
        with target:
            return tvm.transform.Sequential(list(cuda_pipeline.dataflow_lower_passes(target))
                                            + list(cuda_pipeline.finalize_passes(target)))(mod)

    executable = tvm.compile(scheduled, target=target, relax_pipeline=lower_only, tir_pipeline=register_pipeline())
    stack, seen = [executable.mod], set()
    while stack:
        m = stack.pop()
        if m.kind == "cuda":
            return m.inspect_source()
        if id(m) not in seen:
            seen.add(id(m))
            stack.extend(m.imports)
    raise LoweringError(f"node {what}: TVM produced no CUDA kernel for it (it would run on the host)")


def _plan(planned, host_device, sig: Signature, what: str) -> LaunchPlan:
    from ..lowering.launch_reader import LaunchPlanReader

    return LaunchPlanReader(planned["main"], host_device, sig, what).read()


