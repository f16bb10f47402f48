"""ReduceLogSumExp and ReduceL2 over trailing axes as one function each (tpat/legalize/reductions.py), scheduled a
warp per row with a per-row result (tpat/schedules/row_reduction.py, reduction.py).

Kernels read from the launch plan and the CUDA source; the arithmetic compiled for the CPU and checked against
onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import extract_node, fixed_model, kernel_bodies, lower_node
from tpat.ir import expr as E

NP = {T.FLOAT: np.float32, T.FLOAT16: np.float16}


def _reduce(op, elem, shape, axes, keepdims, opset=18):
    rank = len(shape)
    norm = sorted(a % rank for a in axes)
    out = [1 if i in norm else d for i, d in enumerate(shape) if keepdims or i not in norm]
    if opset >= 18:
        node = h.make_node(op, ["x", "axes"], ["y"], name="r", keepdims=keepdims)
        inits = [onnx.numpy_helper.from_array(np.array(axes, np.int64), "axes")]
    else:
        node = h.make_node(op, ["x"], ["y"], name="r", keepdims=keepdims, axes=axes)
        inits = []
    return fixed_model(node, [h.make_tensor_value_info("x", elem, shape)], [h.make_tensor_value_info("y", elem, out)],
                       inits=inits, opset=opset)


@pytest.mark.parametrize("op", ["ReduceLogSumExp", "ReduceL2"])
def test_log_sum_exp_and_l2_are_one_kernel_a_warp_per_row(op):
    """LogSumExp was three kernels (max; exp(x - max) and sum; log and add: 0.68x torch.compile over rows of 1000
    on an H200), L2 two (the root after the sum): FuseOps fuses no reduction into another nor the tail after one."""
    _, low = lower_node(_reduce(op, T.FLOAT, ("batch", 128, 1000), [-1], 0))
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and E.evaluate(k.grid[0], [64]) * 8 == 64 * 128
    body = kernel_bodies(low.cuda_source)
    assert "__shared__" not in body and ("logf(" in body if op == "ReduceLogSumExp" else "sqrtf(" in body)


@pytest.mark.parametrize("op", ["ReduceLogSumExp", "ReduceL2"])
@pytest.mark.parametrize("elem, axes, keepdims, opset", [(T.FLOAT, [-1], 0, 18), (T.FLOAT16, [2, 3], 1, 18),
                                                         (T.FLOAT, [3, 2], 1, 13), (T.FLOAT, [1], 0, 18)])
def test_reduce_rows_match_onnxruntime_on_the_cpu(op, elem, axes, keepdims, opset):
    """tpat's converters (and the stock ones they keep for other axis sets: [1] of 4 axes), compiled for the CPU
    (LLVM), against onnxruntime."""
    import onnxruntime as ort
    import tvm
    from tvm import relax

    from tpat.lowering.frontend import import_onnx
    from tpat.schedules.pipeline import legalize_map

    shape = (2, 3, 5, 7)
    model = _reduce(op, elem, shape, axes, keepdims, opset)
    ex = extract_node(model, {})
    mod = import_onnx(ex.subgraph, ex.signature, "r")
    ours = any("T_lse_max" in f.script() or "T_l2_squares" in f.script() for f in mod.functions.values()
               if isinstance(f, tvm.tirx.PrimFunc))
    assert ours == (axes != [1]), "trailing axes: one function"
    mod = relax.transform.LegalizeOps(customize_legalize_map=legalize_map())(mod)
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    x = np.random.default_rng(0).standard_normal(shape).astype(NP[elem])
    got = vm["main"](tvm.runtime.tensor(x)).numpy()
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    tol = 1e-2 if elem == T.FLOAT16 else 1e-5
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)


@pytest.mark.parametrize("elem, vector", [(T.FLOAT, "float4"), (T.FLOAT16, "uint4")])
def test_log_sum_exp_over_rows_that_split_into_vectors_reads_16_bytes_a_load(elem, vector):
    _, low = lower_node(_reduce("ReduceLogSumExp", elem, ("batch", 128, 1024), [-1], 1))
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and f"*({vector}*)(in0_ptr + " in kernel_bodies(low.cuda_source)
