"""GroupNorm and InstanceNorm as rows of (image, group) (tpat/legalize/normalization.py, tpat/schedules/group_norm.py,
the row rule's long rows and refined outputs in tpat/schedules/row_reduction.py).

The kernels are read from the launch plan and the CUDA source; the arithmetic (tpat's converters and its group_norm
legalization) is compiled for the CPU and checked against onnxruntime.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import extract_node, fixed_model, kernel_bodies, lower_node
from tpat.ir import expr as E

NP = {T.FLOAT: np.float32, T.FLOAT16: np.float16}


def _norm(op, elem, shape, groups=None, opset=21, per_group=False):
    channels = shape[1]
    size = groups if per_group else channels
    inits = [onnx.numpy_helper.from_array(np.linspace(0.5, 1.5, size).astype(NP[elem]), "s"),
             onnx.numpy_helper.from_array(np.linspace(-1, 1, size).astype(NP[elem]), "b")]
    attrs = {"epsilon": 1e-5} | ({"num_groups": groups} if groups else {})
    return fixed_model(h.make_node(op, ["x", "s", "b"], ["y"], name="n", **attrs),
                       [h.make_tensor_value_info("x", elem, shape)], [h.make_tensor_value_info("y", elem, shape)],
                       inits=inits, opset=opset)


@pytest.mark.parametrize("op, groups, rows_an_image, row", [("GroupNormalization", 32, 32, 6272),
                                                              ("InstanceNormalization", None, 64, 3136)])
def test_group_and_instance_norm_are_one_kernel_a_block_per_row(op, groups, rows_an_image, row):
    """GroupNorm (64, 64, 56, 56) fp16 was three kernels (a cast of the input to float32, the normalisation, the
    cast back with the affine part) and the normalisation gave each image one block walking its 32 groups serially:
    872 us on an H200, 0.03x torch.compile. InstanceNorm was two kernels (variance, then mean and normalise)."""
    _, low = lower_node(_norm(op, T.FLOAT16, ("batch", 64, 56, 56), groups))
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1)
    assert all(E.evaluate(k.grid[0], [b]) == b * rows_an_image for b in (1, 64, 77)), "a block per (image, group)"
    body = kernel_bodies(low.cuda_source)
    assert not re.search(r"for \(int", body), "no serial walk: each thread's steps unrolled"
    assert f"blockIdx.x) * {row})" in body, "the row read where it lies"
    assert "__half2float" not in body or "float in_thread" in body


def test_the_statistics_of_a_block_per_row_are_read_into_registers():
    """A block-wide allreduce leaves its result in shared memory; read volatile at every use it was re-read and the
    rsqrt recomputed per element."""
    _, low = lower_node(_norm("GroupNormalization", T.FLOAT, ("batch", 64, 56, 56), 32))
    body = kernel_bodies(low.cuda_source)
    assert re.search(r"local_ptr\[0\] = \(\(volatile float\*\)red_result_ptr\)\[0\];", body)


@pytest.mark.parametrize("op, elem, groups, opset, per_group", [
    ("GroupNormalization", T.FLOAT16, 4, 21, False),
    ("GroupNormalization", T.FLOAT, 4, 21, False),
    ("InstanceNormalization", T.FLOAT, None, 17, False),
    ("InstanceNormalization", T.FLOAT16, None, 17, False),
])
def test_norms_match_onnxruntime_on_the_cpu(op, elem, groups, opset, per_group):
    """tpat's converters and group_norm legalization, compiled for the CPU (LLVM), against onnxruntime."""
    import onnxruntime as ort
    import tvm
    from tvm import relax

    from tpat.lowering.frontend import import_onnx
    from tpat.schedules.pipeline import legalize_map

    shape = (3, 8, 5, 7)
    model = _norm(op, elem, shape, groups, opset, per_group)
    ex = extract_node(model, {})
    mod = import_onnx(ex.subgraph, ex.signature, "n")
    assert any(isinstance(f, tvm.relax.Function) and "group_norm" in f.script() for f in mod.functions.values())
    mod = relax.transform.LegalizeOps(customize_legalize_map=legalize_map())(mod)
    assert "T_group_sum" in mod.script(), "tpat's legalization: the statistics read the input where it lies"
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + 1).astype(NP[elem])
    got = vm["main"](tvm.runtime.tensor(x)).numpy()
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    tol = 1e-2 if elem == T.FLOAT16 else 1e-4
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def test_a_static_group_norm_is_a_block_per_row_too():
    """The static build (batch 64: 2048 rows, fewer than the warp rule's 'many') fell back to dlight, which gave
    each image one block walking its groups: the rows longer than a warp's are a block's each whatever their
    count."""
    _, low = lower_node(_norm("GroupNormalization", T.FLOAT16, (64, 64, 56, 56), 32), {})
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1) and k.grid[0] == 64 * 32
