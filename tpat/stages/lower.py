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

import functools
from dataclasses import dataclass

import onnx

from ..errors import LoweringError
from ..ir import expr as E
from ..ir.launch_plan import LaunchPlan
from ..ir.signature import Signature



@dataclass(frozen=True)
class Lowered:
    cuda_source: str
    plan: LaunchPlan
    signature: Signature  # the input signature with output shapes completed from TVM's own shape inference


def target_for(arch: str):
    """The CUDA target, with the limits meta_schedule needs spelled out (all Volta and newer share them)."""
    import tvm

    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_threads_per_block": 1024,
                              "max_shared_memory_per_block": 49152, "thread_warp_size": 32,
                              "registers_per_block": 65536})


def describe_node(subgraph: onnx.ModelProto) -> str:
    nodes = subgraph.graph.node
    return ", ".join(f"'{n.name}' ({n.op_type})" for n in nodes) if nodes else "(empty subgraph)"


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
    mod = bind_dims(_import(subgraph, sig, what), bucket or {})
    if bucket:
        sig = sig.specialize(bucket)
    try:
        with target:
            scheduled, planned = _schedule(mod, target, database_dir, {d.name: d.max for d in sig.dims})
        launches = _capture_host_device(planned, target)
        plan = _plan(planned, launches, sig, what)  # before codegen: explains unsupported programs best
        sig = _complete_outputs(mod, sig, what)
        cuda_source = _cuda_source(scheduled, target, what)
    except LoweringError:
        raise
    except Exception as exc:  # TVM raises its own error types; the first line names the failing pass or op
        raise LoweringError(
            f"TVM could not lower node {what}: {_first_line(exc)}",
            hint="this op/attribute combination is not supported by apache-tvm "
            f"{tvm.__version__}; leave the node to TensorRT or report it with the model attached",
        ) from exc
    missing = [k.name for k in plan.kernels if k.name not in cuda_source]
    if missing:
        raise LoweringError(f"node {what}: kernels {missing} are in the launch plan but not in TVM's CUDA source")
    return Lowered(cuda_source, plan, sig)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("Traceback", "  File", "    "))]
    return (lines[-1] if lines else type(exc).__name__)[:500]


def _import(subgraph: onnx.ModelProto, sig: Signature, what: str):
    """Run the relax ONNX frontend; fix output dtypes TVM gets wrong (OneHot returns float64 for float32)."""
    from tvm.relax.frontend.onnx import from_onnx

    try:
        mod = from_onnx(subgraph, keep_params_in_input=False)
    except Exception as exc:
        raise LoweringError(
            f"TVM's ONNX frontend cannot import node {what}: {_first_line(exc)}",
            hint="the op or one of its attributes is not implemented in tvm.relax.frontend.onnx; "
            "leave this node to TensorRT",
        ) from exc
    got = _output_dtypes(mod)
    want = [t.dtype.name for t in sig.outputs]
    if got != want:
        mod = from_onnx(_with_output_casts(subgraph, got, want), keep_params_in_input=False)
        if _output_dtypes(mod) != want:
            raise LoweringError(f"node {what}: TVM produces outputs of dtype {got}, the model declares {want}")
    return mod


def _complete_outputs(mod, sig: Signature, what: str) -> Signature:
    """Fill output dims ONNX shape inference left unknown (-1) from TVM's shapes; check the known ones agree."""
    from dataclasses import replace

    from . import tvm_ir

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


def _output_dtypes(mod) -> list[str]:
    ret = mod["main"].ret_ty
    fields = getattr(ret, "fields", None) or [ret]
    return [str(f.dtype) for f in fields]


def _with_output_casts(subgraph: onnx.ModelProto, got: list[str], want: list[str]) -> onnx.ModelProto:
    """Append Cast(to=declared dtype) to outputs whose TVM dtype differs; a no-op in ONNX, a real cast in TVM."""
    m = onnx.ModelProto()
    m.CopyFrom(subgraph)
    for out, g, w in zip(m.graph.output, got, want):
        if g == w:
            continue
        raw = out.name + "__tpat_raw"
        for node in m.graph.node:
            node.output[:] = [raw if o == out.name else o for o in node.output]
        m.graph.node.append(onnx.helper.make_node("Cast", [raw], [out.name], to=out.type.tensor_type.elem_type))
    return m


def fused(mod, target):
    """Legalized and fused, not yet scheduled: the PrimFuncs meta_schedule tunes and its records apply to.

    Tuning (`tpat.stages.tune`) and applying records both start here, so workloads match structurally."""
    import tvm

    from ..schedules.pipeline import fused_passes

    with target:
        return tvm.transform.Sequential(fused_passes(target))(mod)


def bind_dims(mod, values: dict[str, int]):
    """Specialise the symbolic dims (a tuning bucket): `batch` -> 64 everywhere in `main`."""
    from tvm import relax

    return relax.transform.BindSymbolicVars(values, "main")(mod) if values else mod


def _schedule(mod, target, database_dir: str | None, dim_max: dict[str, int]):
    import tvm
    from tvm import relax
    from tvm.relax.backend.cuda import pipeline as cuda_pipeline

    from ..schedules.pipeline import default_scheduled
    from .tune import dropped_kernels

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
    import tvm

    executable = tvm.compile(scheduled, target=target)
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
    from .lower_plan import PlanReader

    return PlanReader(planned["main"], host_device, sig, what).read()


@functools.lru_cache(maxsize=None)
def tvm_version() -> str:
    import tvm

    return tvm.__version__


def write_lowered(lowered: Lowered, folder, prefix: str = "") -> None:
    """Persist a lowering (the lower task's cache entry): TVM's CUDA, the plan, the signature, constant bytes.
    `prefix` keeps several lowerings in one entry (a tuned plugin's symbolic and bucket kernel sets)."""
    import json
    from pathlib import Path

    folder = Path(folder)
    (folder / f"{prefix}tvm.cu").write_text(lowered.cuda_source)
    (folder / f"{prefix}plan.json").write_text(json.dumps(lowered.plan.to_json(), indent=1, sort_keys=True))
    (folder / f"{prefix}signature.json").write_text(json.dumps(lowered.signature.to_json(), indent=1,
                                                               sort_keys=True))
    for i, c in enumerate(lowered.plan.constants):
        (folder / f"{prefix}const{i}.bin").write_bytes(c.data)


def read_lowered(folder, prefix: str = "") -> Lowered:
    import json
    from pathlib import Path

    folder = Path(folder)
    sig = Signature.from_json(json.loads((folder / f"{prefix}signature.json").read_text()))
    plan = LaunchPlan.from_json(json.loads((folder / f"{prefix}plan.json").read_text()), sig.dim_names,
                                lambda i: (folder / f"{prefix}const{i}.bin").read_bytes())
    return Lowered((folder / f"{prefix}tvm.cu").read_text(), plan, sig)
