"""tpat's own lowering choices (tpat/schedules): which kernels they produce, read from the plan and the CUDA source.

Their speed is measured on the GPU (benchmarks/); correctness against onnxruntime by tests/gpu. Here: that each
rule fires where it should, declines where it should not, and never produces an invalid launch.
"""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from node_helpers import fixed_model, kernel_bodies, lower_node
from tpat.ir import expr as E


@pytest.mark.parametrize("shape, elem, lanes, vector", [
    ((1, 12, 128, 128), T.FLOAT, 16, "float4"),  # 512-byte rows: 16 lanes of 32 bytes
    ((1, 12, 128, 128), T.FLOAT16, 8, "uint4"),  # 256-byte rows: 8 lanes of 16 halves
    ((2, 3, 100), T.FLOAT, 32, None),  # 100 does not split into whole vectors: a warp, scalar
])
def test_short_rows_get_lanes_of_a_warp_and_no_shared_memory(shape, elem, lanes, vector):
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                   [h.make_tensor_value_info("x", elem, shape)], [h.make_tensor_value_info("y", elem, shape)])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    rows = int(np.prod(shape[:-1]))
    assert k.block[0] == lanes and k.block[0] * k.block[1] <= 1024
    assert k.grid[0] * k.block[1] == rows  # whole rows per block, each row once
    body = kernel_bodies(low.cuda_source)
    assert "__shfl_down_sync" in body and "__shared__" not in body and "__syncthreads" not in body
    if vector:
        assert f"*({vector}*)(in0_ptr + " in body and f"*({vector}*)(T_softmax_norm_ptr + " in body
    else:
        assert "float4" not in body


@pytest.mark.parametrize("elem, exp", [(T.FLOAT, "expf("), (T.FLOAT16, "__expf(")])
def test_softmax_accumulates_in_fp32_with_one_reciprocal_per_row(elem, exp):
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                   [h.make_tensor_value_info("x", elem, (4, 128))], [h.make_tensor_value_info("y", elem, (4, 128))])
    _, low = lower_node(model)
    body = kernel_bodies(low.cuda_source)
    assert "hexp" not in body and "half in_thread" not in body, "no half-precision exp or sums"
    assert exp in body and ("__expf(" in body) == (elem == T.FLOAT16), "fast exp only where the result is 16-bit"
    assert re.search(r"\(0x1p\+0f/\*1\.000000e\+00\*/ / red_buf0_ptr_1\[0\]\)", body), "x * (1 / sum)"


@pytest.mark.parametrize("axis", [1, -1])
def test_softmax_legalization_matches_numpy_on_any_axis(axis):
    """tpat's Softmax TE, compiled for the CPU (LLVM) and run: the math, whatever axis (the GPU tests cover the
    CUDA kernels of the last axis against onnxruntime)."""
    import tvm
    from tvm import te

    from tpat.schedules.softmax import softmax_accumulated

    x = te.placeholder((2, 5, 3, 7), "float32", name="x")
    ex = tvm.compile(tvm.IRModule({"main": te.create_prim_func([x, softmax_accumulated(x, axis)])}), target="llvm")
    a = np.random.default_rng(0).standard_normal((2, 5, 3, 7)).astype(np.float32) * 8
    out = tvm.runtime.empty(a.shape, "float32", tvm.cpu())
    ex["main"](tvm.runtime.tensor(a, tvm.cpu()), out)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(out.numpy(), e / e.sum(axis=axis, keepdims=True), rtol=1e-5, atol=1e-7)


def test_softmax_over_a_leading_axis_lowers_for_the_gpu():
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=1),
                   [h.make_tensor_value_info("x", T.FLOAT16, (2, 12, 64))],
                   [h.make_tensor_value_info("y", T.FLOAT16, (2, 12, 64))])
    _, low = lower_node(model)
    assert low.launch_plan.kernels and "__expf(" in kernel_bodies(low.cuda_source)


def test_short_rows_with_a_dynamic_batch():
    _, low = lower_node(op_models.softmax())  # (batch, 8, 128) fp32
    (k,) = low.launch_plan.kernels
    assert k.block == (16, 8, 1) and E.to_str(k.grid[0]) == "batch"


def test_long_rows_get_a_warp_when_there_are_many():
    shape = (64, 128, 768)  # BERT-base LayerNorm at batch 64: 8192 rows
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                   [h.make_tensor_value_info("x", T.FLOAT16, shape)],
                   [h.make_tensor_value_info("y", T.FLOAT16, shape)])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and k.grid[0] == 64 * 128 // 8
    assert "*(uint4*)(in0_ptr + " in kernel_bodies(low.cuda_source), "each lane's share in 16-byte vectors"


def test_many_long_rows_not_splitting_into_vectors_stay_scalar():
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                   [h.make_tensor_value_info("x", T.FLOAT, (64, 128, 800))],
                   [h.make_tensor_value_info("y", T.FLOAT, (64, 128, 800))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and "float4" not in kernel_bodies(low.cuda_source)


def test_few_long_rows_get_a_warp_each_in_vectors():
    rng = np.random.default_rng(0)
    gamma, beta = (onnx.numpy_helper.from_array(rng.random(768, dtype=np.float32), n) for n in ("g", "b"))
    model = fixed_model(h.make_node("LayerNormalization", ["x", "g", "b"], ["y"], name="ln", axis=-1),
                   [h.make_tensor_value_info("x", T.FLOAT, (1, 128, 768))],
                   [h.make_tensor_value_info("y", T.FLOAT, (1, 128, 768))], inits=[gamma, beta])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 1, 1) and k.grid[0] == 128  # a row a block: the 128 rows spread over the SMs
    body = kernel_bodies(low.cuda_source)
    assert "__shared__" not in body
    assert {"in0", "B", "C", "T_layer_norm"} <= set(re.findall(r"\*\(float4\*\)\((\w+)_ptr \+ ", body)), \
        "rows, gamma and beta read in vectors, the output written in vectors"


def test_few_long_rows_not_splitting_into_vectors_keep_dlights_block_per_row():
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1),
                   [h.make_tensor_value_info("x", T.FLOAT, (4, 1000))],
                   [h.make_tensor_value_info("y", T.FLOAT, (4, 1000))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1) and k.grid[0] == 4


@pytest.mark.parametrize("elem, vector, shape", [(T.FLOAT, "float4", (64, 3072)), (T.FLOAT16, "uint4", (64, 3072)),
                                                 (T.FLOAT, "float4", (1, 128, 3072))])  # a unit (batch) axis too
def test_elementwise_kernels_move_16_bytes_per_access(elem, vector, shape):
    model = fixed_model(h.make_node("Erf", ["x"], ["y"], name="erf"), [h.make_tensor_value_info("x", elem, shape)],
                   [h.make_tensor_value_info("y", elem, shape)])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    lanes = 4 if elem == T.FLOAT else 8
    assert k.block == (256, 1, 1) and k.grid[0] * 256 * lanes == int(np.prod(shape))
    body = kernel_bodies(low.cuda_source)
    assert f"*({vector}*)(in0_ptr + " in body, "one vector load from global memory"
    assert re.search(rf"\*\({vector}\*\)\(compute_ptr \+ [^;]*= \*\({vector}\*\)", body), "one vector store"


@pytest.mark.parametrize("elem, vector", [(T.FLOAT, "float4"), (T.FLOAT16, "uint4")])
def test_a_bias_broadcast_along_the_rows_is_read_in_vectors(elem, vector):
    """Bias + GELU: the bias, (3072,) against (batch, 128, 3072), was one 2-byte load an element at a run-time
    modulo (fp16: 39.4 us on an H200, 35.2 with the bias in vectors). Every operand of the row, the bias too, is
    staged into registers by 16-byte loads, the math scalar (erf has no vector form), the output a vector store."""
    rng = np.random.default_rng(0)
    bias = onnx.numpy_helper.from_array(rng.random(3072).astype(np.float32 if elem == T.FLOAT else np.float16), "b")
    nodes = [h.make_node("Add", ["x", "b"], ["s"], name="add"), h.make_node("Erf", ["s"], ["y"], name="erf")]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", elem, ("batch", 128, 3072))],
                         [h.make_tensor_value_info("y", elem, ("batch", 128, 3072))], initializer=[bias])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    _, low = lower_node(model, fuse=True)
    (k,) = low.launch_plan.kernels
    body = kernel_bodies(low.cuda_source)
    loads = re.findall(rf"\*\({vector}\*\)\((\w+)_ptr \+ ", body)
    assert "in0" in loads and len(set(loads) - {"in0"}) >= 2, "x, the bias and the output in vectors"
    assert not re.search(r"param_0_ptr\[", body), "no scalar load of the bias"
    erf = "erff(" if elem == T.FLOAT else "__expf("  # a 16-bit erf in 16 bits' precision (half_precision_erf.py)
    assert body.count(erf) == (4 if elem == T.FLOAT else 8), "the math unrolled, a scalar erf an element"


def test_elementwise_with_an_odd_inner_extent_is_left_to_dlight():
    model = fixed_model(h.make_node("Erf", ["x"], ["y"], name="erf"), [h.make_tensor_value_info("x", T.FLOAT, (5, 7))],
                   [h.make_tensor_value_info("y", T.FLOAT, (5, 7))])
    _, low = lower_node(model)
    assert "float4" not in kernel_bodies(low.cuda_source)


def test_a_large_gather_gives_a_thread_two_vectors_half_a_row_apart():
    model = fixed_model(h.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="rs", mode="linear"),
                   [h.make_tensor_value_info("x", T.FLOAT, (32, 32, 44, 50))],
                   [h.make_tensor_value_info("y", T.FLOAT, (32, 32, 176, 200))],
                   inits=[onnx.numpy_helper.from_array(np.array([32, 32, 176, 200], np.int64), "sizes")], opset=19)
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1) and k.grid[0] * 256 * 8 == 32 * 32 * 176 * 200
    body = kernel_bodies(low.cuda_source)
    stores = re.findall(r"\*\(float4\*\)\(resize_ptr \+ [^;]*;", body)
    assert len(stores) == 2 and "% 25) * 4)) + 100))" in stores[1], "two vector stores, half a row (100) apart"
    assert "% 200" not in body and "% 25)" in body, "the column from the thread's first vector, not per element"


def test_a_small_gather_keeps_a_vector_per_thread():
    _, low = lower_node(op_models.resize_linear())  # (batch, 3, 16, 20): 240 vectors a batch
    assert "resize_local_ptr[8]" not in kernel_bodies(low.cuda_source)


def test_gather_nd_loads_its_index_tuple_once_and_the_slice_in_vectors():
    model = fixed_model(h.make_node("GatherND", ["data", "idx"], ["y"], name="g"),
                   [h.make_tensor_value_info("data", T.FLOAT, (1, 128, 128, 224)),
                    h.make_tensor_value_info("idx", T.INT64, (1, 600, 3))],
                   [h.make_tensor_value_info("y", T.FLOAT, (1, 600, 224))])
    model.graph.node[0].attribute.append(h.make_attribute("batch_dims", 0))
    _, low = lower_node(model)
    body = kernel_bodies(low.cuda_source)
    assert "*(float4*)(in0_ptr + " in body, "the gathered slice in 16-byte loads"
    assert len(re.findall(r"in1_ptr\[[^\]]*\(int64_t\)2\)\] < \(int64_t\)0", body)) == 1, "each index read once"


def test_a_misaligned_gather_is_not_read_in_vectors():
    """Slice [1:9] of rows of 9: contiguous, but a vector would start at an odd offset (misaligned on the GPU)."""
    starts, ends, axes = (onnx.numpy_helper.from_array(np.array([v], np.int64), n)
                          for v, n in ((1, "starts"), (9, "ends"), (1, "axes")))
    model = fixed_model(h.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="sl"),
                   [h.make_tensor_value_info("x", T.FLOAT, (64, 9))], [h.make_tensor_value_info("y", T.FLOAT, (64, 8))],
                   inits=[starts, ends, axes])
    _, low = lower_node(model)
    body = kernel_bodies(low.cuda_source)
    assert "*(float4*)(x_ptr" not in body and "*(float4*)(in0_ptr" not in body
    assert re.search(r"\*\(float4\*\)\(\w+_ptr \+ ", body), "the output is still stored in vectors"


def test_resize_indexes_in_32_bits():
    _, low = lower_node(op_models.resize_linear())
    body = kernel_bodies(low.cuda_source)
    assert "int64_t" not in body, "tensors this small need no 64-bit index arithmetic"


def test_int64_tensors_keep_64_bit_data_and_index_in_32_bits():
    """OneHot's int64 indices at a dynamic batch: ForceNarrowIndexToInt32 would narrow the data too (and change what
    the kernel reads), so the kernel went without narrowing, every element's position divided in 64 bits (90.6 us
    against its static twin's 51.0 on an H200, (2048, 26) -> (2048, 26, 1000) fp32). Its thread extents are now
    bounded by their value at the profile's largest dims (schedules/narrow_index.py), and TVM's NarrowDataType
    narrows what that bound proves: the thread's position and the tensor offsets; the loaded indices stay int64."""
    _, low = lower_node(op_models.one_hot())
    body = kernel_bodies(low.cuda_source)
    assert "int64_t* __restrict__" in body and "condval = in0_ptr[" in body, "the int64 indices read as int64"
    assert "((int64_t)blockIdx.x)" not in body and "((int)blockIdx.x)" in body, "the thread's position in 32 bits"
    assert not re.search(r"\w+_ptr\[\(+\(int64_t\)", body), "no tensor offset computed in 64 bits"
    (k,) = low.launch_plan.kernels
    for b in (1, 7, 128, 256):  # the bound changes no grid the plugin launches (its launcher rejects batch > 256)
        assert E.evaluate(k.grid[0], [b]) * k.block[0] >= b * 13 * 16 // 4 > (E.evaluate(k.grid[0], [b]) - 1) * k.block[0]
    assert "min(" in E.to_str(k.grid[0]), "the grid's bound at the largest batch, as TVM wrote it"


def test_gather_nd_fuses_its_index_normalisation():
    _, low = lower_node(op_models.gather_nd())
    (k,) = low.launch_plan.kernels
    assert "gather_nd" in k.name and low.launch_plan.workspace == 0


@pytest.mark.parametrize("reduction, atomic", [("none", False), ("add", True)])
def test_scatter_nd_runs_a_thread_per_updated_element(reduction, atomic):
    model = op_models.scatter_nd() if reduction == "none" else op_models.scatter_nd_add()
    _, low = lower_node(model)
    scatter = low.launch_plan.kernels[-1]
    assert scatter.name == "scatter_nd_flat_kernel_1"
    (updates,) = [i.type.tensor_type.shape for i in model.graph.input if i.name == "updates"]
    per_batch = int(np.prod([d.dim_value for d in updates.dim[1:]]))
    assert [E.evaluate(scatter.grid[0], [b]) * scatter.block[0] >= b * per_batch for b in (1, 7, 256)] == [True] * 3
    assert E.evaluate(scatter.grid[0], [256]) > 1, "the scatter is spread over blocks, not one serial block"
    assert ("atomicAdd" in low.cuda_source) == atomic


def test_a_tuned_kernel_measured_slower_than_the_default_is_dropped(tmp_path):
    """tune.json's per-function verdict (written on the GPU by the tune stage) decides which records apply."""
    from tpat.stages.lower import lower
    from tpat.lowering.records import bucket_of
    from tpat.stages.tune import _workloads
    from tpat.workflow import load_resolved
    from tuning_helpers import planned_tune_key, write_records
    from workflow_helpers import erf_model, write_spec

    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(64)}, {"op_types": ["Erf"]}, tmp_path / "cache",
                      defaults={"tuning": {"trials": 16}})
    plugin, key = planned_tune_key(load_resolved(spec))
    records = tmp_path / "records"
    write_records(plugin, records, key, 128)
    sub, sig, bucket = onnx.load_from_string(plugin.subgraph), plugin.signature, bucket_of(plugin.signature)
    assert lower(sub, sig, database_dir=str(records), bucket=bucket).launch_plan.kernels[0].block == (128, 1, 1)

    mod, _ = _workloads(sub, sig, "sm_90", bucket, "erf")
    names = [gv.name_hint for gv, f in mod.functions.items() if "PrimFunc" in type(f).__name__]
    summary = json.loads((records / "tune.json").read_text())
    summary["kernels"] = {n: {"tuned_us": 9.0, "default_us": 5.0, "kept": False} for n in names}
    (records / "tune.json").write_text(json.dumps(summary))
    assert lower(sub, sig, database_dir=str(records), bucket=bucket).launch_plan.kernels[0].block == (256, 1, 1)


@pytest.mark.parametrize("tuned, default, kept", [(8.0, 10.0, True), (9.9, 10.0, False), (3.49, 3.57, False),
                                                   (100.0, 103.0, True), (5.0, None, True)])
def test_a_tuned_schedule_must_beat_the_default_clearly(tuned, default, kept):
    """2 % and 0.25 us: single-launch timings of tiny kernels jitter by ~0.1 us (softmax_b1 on the H100: 3.49 vs
    3.57 us by meta_schedule's runner, 3.3 vs 1.8 us in CUDA graphs)."""
    from tpat.lowering.records import keep_tuned

    assert keep_tuned(tuned, default) is kept
