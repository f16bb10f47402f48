"""Data movement kernels (tpat/schedules/transpose.py, the copy paths of tpat/schedules/elementwise.py): which
kernels they produce, read from the plan and the CUDA source. Their numbers are checked on a GPU against
onnxruntime (tests/gpu, op_models.EXTRA_OPS) and their speed by benchmarks/ (issue 15)."""

from __future__ import annotations

import re

import pytest
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from node_helpers import fixed_model, kernel_bodies, lower_node


def _plain_transpose(perm, in_shape, elem=T.FLOAT):
    out_shape = [in_shape[p] for p in perm]
    return fixed_model(h.make_node("Transpose", ["x"], ["y"], name="tr", perm=list(perm)),
                       [h.make_tensor_value_info("x", elem, in_shape)], [h.make_tensor_value_info("y", elem, out_shape)])


@pytest.mark.parametrize("model", [op_models.transpose_021, lambda: _plain_transpose((0, 3, 1, 2), (2, 8, 32, 64)),
                                   lambda: _plain_transpose((1, 0), (64, 96), T.FLOAT16),
                                   lambda: _plain_transpose((0, 2, 1), (2, 48, 40))])  # ragged last tiles
def test_a_transpose_moving_the_innermost_axis_goes_through_a_padded_shared_tile(model):
    """Reads along the input's rows into shared memory, writes along the output's rows: a warp's 32 loads were
    strided by the input's row (75.7 us for (64,512,512) on an H200, 2.2x torch.compile)."""
    _, low = lower_node(model())
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1)
    body = kernel_bodies(low.cuda_source)
    assert re.search(r"__shared__ alignas\(\d+\) \w+ in0_shared_ptr\[1056\];", body), "a 32 x (32 + 1) tile"
    assert body.count("__syncthreads()") == 1
    assert len(re.findall(r"in0_shared_ptr\[[^\]]*\] = in0_ptr\[", body)) == 4, "4 coalesced loads a thread"


def test_a_half_precision_copy_under_a_dynamic_batch_loads_16_byte_vectors():
    """The (batch,128,12,64) -> (batch,12,128,64) fp16 transpose loaded halves one by one (its int64 index math
    under a dynamic batch was taken for 64-bit values without a CUDA vector type): 18.2 us against 12.5."""
    _, low = lower_node(op_models.transpose_0213_fp16())
    body = kernel_bodies(low.cuda_source)
    assert "*(uint4*)(in0_ptr + " in body and re.search(r"\*\(uint4\*\)\(T_transpose_ptr \+ ", body)


def test_each_output_of_a_split_is_a_kernel_of_16_byte_vectors():
    """A function of three blocks (one per output) fell to dlight's fallback, one float a thread: 26.7 us for
    (64,128,768) fp32 on an H200 against torch.compile's 16.3."""
    _, low = lower_node(op_models.split3())
    assert len(low.launch_plan.kernels) == 3 and all(k.block == (256, 1, 1) for k in low.launch_plan.kernels)
    body = kernel_bodies(low.cuda_source)
    assert body.count("*(float4*)(in0_ptr + ") == 3, "one vector load a kernel"


def test_a_concat_loads_each_vector_from_one_input_behind_one_branch():
    """Which input an element comes from was tested per element: 8 scalar loads behind 8 branches a vector."""
    _, low = lower_node(op_models.concat3_fp16())
    body = kernel_bodies(low.cuda_source)
    assert "half condval" not in body and "uint4 condval" in body
    assert all(re.search(rf"condval(_\d+)? = \*\(uint4\*\)\(in{i}_ptr \+ ", body) for i in range(3))


@pytest.mark.parametrize("largest", [True, False])
def test_topk_rows_match_numpy_with_ties_in_index_order(largest):
    """tpat's TopK kernel compiled for the CPU (LLVM: one serial "lane" a row) and run: values best first, equal
    values in index order (ONNX's rule); the GPU's warp merge is checked by tests/gpu (op_models.EXTRA_OPS)."""
    import numpy as np
    import tvm
    from tvm import te

    from tpat.schedules.topk import topk_rows

    rng = np.random.default_rng(0)
    a = rng.integers(-20, 20, size=(6, 300)).astype(np.float32)  # many ties
    x = te.placeholder(a.shape, "float32", name="x")
    values, indices = topk_rows(x, 8, largest, "int64", gpu=False)
    ex = tvm.compile(tvm.IRModule({"main": te.create_prim_func([x, values, indices])}), target="llvm")
    out_v = tvm.runtime.empty((6, 8), "float32", tvm.cpu())
    out_i = tvm.runtime.empty((6, 8), "int64", tvm.cpu())
    ex["main"](tvm.runtime.tensor(a, tvm.cpu()), out_v, out_i)
    order = np.argsort(-a if largest else a, axis=1, kind="stable")[:, :8]
    np.testing.assert_array_equal(out_i.numpy(), order)
    np.testing.assert_array_equal(out_v.numpy(), np.take_along_axis(a, order, axis=1))


def test_topk_with_a_small_k_is_one_kernel_of_a_warp_per_row():
    """TVM's TopK sorted each row completely through global temporaries: 8 kernels for k=8 of 1000."""
    _, low = lower_node(op_models.topk())
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1) and low.launch_plan.workspace == 0
    assert "__shfl_xor_sync" in kernel_bodies(low.cuda_source)


def test_cumsum_rows_match_numpy_across_tiles_and_a_ragged_end():
    """tpat's CumSum kernel compiled for the CPU (LLVM: a row one thread, tiles of 4) and run; the GPU's warp and
    block scans are checked by tests/gpu (op_models.EXTRA_OPS)."""
    import numpy as np
    import tvm
    from tvm import te

    from tpat.schedules.cumsum import cumsum_rows

    a = np.random.default_rng(1).standard_normal((3, 2, 37)).astype(np.float32)
    x = te.placeholder(a.shape, "float32", name="x")
    ex = tvm.compile(tvm.IRModule({"main": te.create_prim_func([x, cumsum_rows(x, gpu=False)])}), target="llvm")
    out = tvm.runtime.empty(a.shape, "float32", tvm.cpu())
    ex["main"](tvm.runtime.tensor(a, tvm.cpu()), out)
    np.testing.assert_allclose(out.numpy(), np.cumsum(a, axis=-1), rtol=1e-5, atol=1e-5)


def test_cumsum_over_the_last_axis_is_one_kernel_of_a_block_per_row():
    """TVM's CumSum ran three kernels (block sums, their scan, a second read to add them) and a global
    temporary; the row is now read once and written once."""
    _, low = lower_node(op_models.cumsum())
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1) and low.launch_plan.workspace == 0
    assert "__shfl_up_sync" in kernel_bodies(low.cuda_source)


@pytest.mark.parametrize("reduction", ["max", "min"])
def test_a_float_max_or_min_scatter_is_one_integer_atomic_on_the_bits(reduction):
    """A compare-and-swap loop (a load, then a CAS retried on every collision) made ScatterND max (64,4096,64)
    fp32 88 us on an H200, against 65 for the native atomicAdd of its add twin."""
    model = fixed_model(h.make_node("ScatterND", ["d", "i", "u"], ["y"], name="sc", reduction=reduction),
                        [h.make_tensor_value_info("d", T.FLOAT, (4, 64, 8)),
                         h.make_tensor_value_info("i", T.INT64, (4, 16, 2)),
                         h.make_tensor_value_info("u", T.FLOAT, (4, 16, 8))],
                        [h.make_tensor_value_info("y", T.FLOAT, (4, 64, 8))], opset=18)
    _, low = lower_node(model)
    src = low.cuda_source
    helper = src[src.index(f"float tpat_atomic_{reduction}(float* address"):]
    helper = helper[:helper.index("\n}")]
    assert "atomicCAS" not in helper and "tpat_atomic_cas" not in helper
    assert "reinterpret_cast<int*>(address)" in helper and "reinterpret_cast<unsigned int*>(address)" in helper
    assert f"tpat_atomic_{reduction}((&" in kernel_bodies(src)


def test_a_half_precision_one_hot_computes_in_two_vectors_of_4():
    """8 halves a vector compare int64 indices (no 8-lane 64-bit CUDA type): each element was computed alone, the
    index reloaded and tested for each; now two 4-lane vectors fill the 16-byte store."""
    _, low = lower_node(op_models.one_hot_fp16())
    body = kernel_bodies(low.cuda_source)
    assert body.count("longlong4 v_") >= 1 and "*(half4*)(" in body and "*(uint4*)(" in body
