"""The pass that issues a run's loads before its steps' predicates (tpat/schedules/unpredicated_loads.py): the
values it computes, on the CPU, where the loads went and what they read past the row's end; and that kernels with
no marked loop come out of tpat's TIR pipeline as out of TVM's default one.

The kernels it rewrites (rows of symbolic length) are read in test_reductions.py; their values on a GPU against
onnxruntime in tests/gpu (the whole encoder's mask+Softmax at an odd sequence length) and benchmarks/run.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import extract_node, fixed_model
from tpat.schedules.unpredicated_loads import MARK

ROWS, STEPS = 3, 4


def _normalised_rows(marked: bool):
    """y[r, e] = x[r, e] / sum(x[r, :]) over rows of symbolic length n, each row walked in runs of STEPS steps,
    each step predicated on the row's end: the shape of tpat's row rules after unrolling."""
    from tvm import tirx
    from tvm.script import tirx as S

    @S.prim_func
    def rows(x_h: S.handle, y_h: S.handle, n: S.int32):
        S.func_attr({"global_symbol": "rows", "tirx.noalias": True})
        x = S.match_buffer(x_h, (3 * n,), "float32")
        y = S.match_buffer(y_h, (3 * n,), "float32")
        for r in range(3):
            acc = S.alloc_buffer((1,), "float32", scope="local")
            acc[0] = S.float32(0)
            for run in S.serial((n + 3) // 4, annotations={"tpat.unpredicated_loads": 1}):
                if run * 4 < n:
                    acc[0] = acc[0] + x[r * n + run * 4]
                if run * 4 + 1 < n:
                    acc[0] = acc[0] + x[r * n + run * 4 + 1]
                if run * 4 + 2 < n:
                    acc[0] = acc[0] + x[r * n + run * 4 + 2]
                if run * 4 + 3 < n:
                    acc[0] = acc[0] + x[r * n + run * 4 + 3]
            for run in S.serial((n + 3) // 4, annotations={"tpat.unpredicated_loads": 1}):
                if run * 4 < n:
                    y[r * n + run * 4] = x[r * n + run * 4] / acc[0]
                if run * 4 + 1 < n:
                    y[r * n + run * 4 + 1] = x[r * n + run * 4 + 1] / acc[0]
                if run * 4 + 2 < n:
                    y[r * n + run * 4 + 2] = x[r * n + run * 4 + 2] / acc[0]
                if run * 4 + 3 < n:
                    y[r * n + run * 4 + 3] = x[r * n + run * 4 + 3] / acc[0]

    if marked:
        return rows

    def unmark(loop):
        annotations = {k: v for k, v in loop.annotations.items() if k != MARK}
        return tirx.For(loop.loop_var, loop.min, loop.extent, loop.kind, loop.body, loop.thread_binding,
                        annotations, loop.step)

    import tvm_ffi

    return rows.with_body(tvm_ffi.structural_map(rows.body, (tirx.For, unmark)))


def _rewritten(func):
    import tvm

    from tpat.schedules.unpredicated_loads import unpredicated_loads

    return unpredicated_loads()(tvm.IRModule({"rows": func}))["rows"]


def test_a_marked_run_loads_first_from_an_index_inside_the_row():
    """Every load of x leaves its step: bound before the run's first predicate, at `p ? index : 0` (p the
    predicate of the step that reads it), so a step past the row's end reads x[0]; the updates and stores stay
    under their predicates."""
    import tvm_ffi
    from tvm import tirx
    from tvm.ir import TensorLoad

    body = _rewritten(_normalised_rows(True)).body
    loops = []
    tvm_ffi.structural_walk(body, (tirx.For, loops.append))
    runs = [loop for loop in loops if loop.loop_var.name == "run"]
    assert len(runs) == 2 and all(MARK not in loop.annotations for loop in runs)
    for run in runs:
        stmts = list(run.body.seq)
        binds = [s for s in stmts if isinstance(s, tirx.Bind)]
        steps = [s for s in stmts if isinstance(s, tirx.IfThenElse)]
        assert stmts == binds + steps and len(binds) == len(steps) == STEPS, "the loads first, then the steps"
        for bind, step in zip(binds, steps):
            (index,) = bind.value.indices
            assert isinstance(index, tirx.Select) and index.condition.same_as(step.condition)
            assert isinstance(index.false_value, tirx.IntImm) and index.false_value.value == 0
            loads = []
            tvm_ffi.structural_walk(step.then_case, (TensorLoad, loads.append))
            assert all(load.source.name != "x" for load in loads), "no load of x under the predicate"


@pytest.mark.parametrize("n", [1, 3, 4, 5, 9])
def test_a_marked_run_computes_what_the_predicated_steps_compute(n):
    """Rows shorter than a run, of a whole run, and of a run and a part: the rewritten function's values (CPU)
    against numpy and against the function left unmarked."""
    import tvm

    x = (np.random.default_rng(n).random(ROWS * n) + 0.5).astype(np.float32)
    expected = (x.reshape(ROWS, n) / x.reshape(ROWS, n).sum(1, keepdims=True)).ravel()
    for func in (_rewritten(_normalised_rows(True)), _normalised_rows(False)):
        lib = tvm.compile(tvm.IRModule({"rows": func}), target="llvm")
        y = tvm.runtime.tensor(np.zeros(ROWS * n, np.float32))
        lib["rows"](tvm.runtime.tensor(x), y, n)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)


def test_kernels_without_a_marked_loop_come_out_as_from_tvms_pipeline():
    """A Softmax over static rows (no marked loop): tpat's TIR pipeline gives TVM's CUDA byte for byte."""
    import tvm
    from tvm.relax.backend.cuda import pipeline as cuda_pipeline

    from tpat.lowering.frontend import fused, import_onnx, target_for
    from tpat.schedules.pipeline import default_scheduled
    from tpat.schedules.device_pipeline import register_pipeline

    shape = (2, 12, 128, 128)
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                        [h.make_tensor_value_info("x", T.FLOAT16, shape)],
                        [h.make_tensor_value_info("y", T.FLOAT16, shape)])
    ex = extract_node(model, {})
    target = target_for("sm_90")
    with target:
        scheduled = default_scheduled(fused(import_onnx(ex.subgraph, ex.signature, "sm"), target), {})

    @tvm.transform.module_pass(opt_level=0)
    def lower_only(mod, _ctx):
        with target:
            return tvm.transform.Sequential(list(cuda_pipeline.dataflow_lower_passes(target))
                                            + list(cuda_pipeline.finalize_passes(target)))(mod)

    def cuda(pipeline):
        executable = tvm.compile(scheduled, target=target, relax_pipeline=lower_only, tir_pipeline=pipeline)
        stack = [executable.mod]
        while stack:
            m = stack.pop()
            if m.kind == "cuda":
                return m.inspect_source()
            stack.extend(m.imports)
        raise AssertionError("no CUDA module")

    assert cuda(register_pipeline()) == cuda("default")
