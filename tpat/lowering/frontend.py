"""TVM's side of lowering, shared by the lower and tune stages: the CUDA target, the relax ONNX frontend (with the
output dtypes TVM gets wrong fixed), symbolic dims bound to a bucket, and the fused module both stages start from
(tuning and applying records must see structurally identical workloads).
"""

from __future__ import annotations

import onnx

from ..errors import LoweringError
from ..ir.signature import Signature


def target_for(arch: str):
    """The CUDA target, with the limits meta_schedule needs spelled out (all Volta and newer share them)."""
    import tvm

    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_threads_per_block": 1024,
                              "max_shared_memory_per_block": 49152, "thread_warp_size": 32,
                              "registers_per_block": 65536})


def describe_node(subgraph: onnx.ModelProto) -> str:
    nodes = subgraph.graph.node
    return ", ".join(f"'{n.name}' ({n.op_type})" for n in nodes) if nodes else "(empty subgraph)"


def import_onnx(subgraph: onnx.ModelProto, sig: Signature, what: str):
    """Run the relax ONNX frontend on the subgraph with static Shape/Size folded into constants (a relax shape
    value is no tensor a plugin can output) and If of plain tensor branches made a Where (graph/if_branches);
    fix output dtypes TVM gets wrong (OneHot returns float64 for float32)."""
    from tvm.relax.frontend.onnx import from_onnx

    from ..graph.if_branches import inline_if_branches
    from ..graph.static_values import fold_static_shapes
    from ..legalize.registry import tpat_converters
    from .tvm_errors import describe, raised_by_tpat

    subgraph = inline_if_branches(fold_static_shapes(subgraph))
    try:
        with tpat_converters():
            mod = from_onnx(subgraph, keep_params_in_input=False, shape_dict=_empty_inputs(subgraph))
    except Exception as exc:
        if raised_by_tpat(exc):
            raise
        raise LoweringError(
            f"TVM's ONNX frontend cannot import node {what}: {describe(exc)}",
            hint="the op or one of its attributes is not implemented in tvm.relax.frontend.onnx; "
            "leave this node to TensorRT",
        ) from exc
    got = _output_dtypes(mod, what)
    want = [t.dtype.name for t in sig.outputs]
    if got != want:
        with tpat_converters():
            mod = from_onnx(_with_output_casts(subgraph, got, want), keep_params_in_input=False,
                            shape_dict=_empty_inputs(subgraph))
        if _output_dtypes(mod, what) != want:
            raise LoweringError(f"node {what}: TVM produces outputs of dtype {got}, the model declares {want}")
    return mod


def _empty_inputs(subgraph: onnx.ModelProto) -> dict[str, list[int]]:
    """The static shapes of inputs with a zero-size axis: TVM's frontend reads a 0 as "unknown" and makes it a
    symbolic var, which no declared dim binds."""
    shapes = {}
    for vi in subgraph.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims) and any(d.dim_value == 0 for d in dims):
            shapes[vi.name] = [int(d.dim_value) for d in dims]
    return shapes


def _output_dtypes(mod, what: str) -> list[str]:
    ret = mod["main"].ret_ty
    fields = getattr(ret, "fields", None) or [ret]
    for i, f in enumerate(fields):
        if not hasattr(f, "dtype"):
            raise LoweringError(f"node {what}: output {i} is a {type(f).__name__} in TVM, not a tensor (a shape "
                                "that depends on dynamic dims)",
                                hint="a plugin outputs tensors; leave shape computations to TensorRT")
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
