"""Reductions in dynamic mode (issue 15): rows of symbolic length, a row reduction fused with the elementwise op
in front of it, and reductions over any axis set (tpat/schedules/row_reduction.py, row_pattern.py, reduction.py).

Read from the launch plan and the CUDA source: the grid covers the work in parallel, a warp (or part of one) per
row with no serial walk of a reduced axis by one thread, 16-byte vectors where the layout allows them, one kernel
where the ops fuse. Speed: benchmarks/ (breadth suite); values: tests/gpu against onnxruntime.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import fixed_model, kernel_bodies, lower_node
from workflow_helpers import tpat_cli, write_spec
from tpat.ir import expr as E
from tpat.spec import DimRange

SEQ = {"batch": DimRange(min=1, opt=32, max=64), "seq": DimRange(min=1, opt=384, max=512)}
BATCH = {"batch": DimRange(min=1, opt=128, max=256)}


NP_OF = {T.FLOAT: np.float32, T.FLOAT16: np.float16}


def _vi(name, elem, shape):
    return h.make_tensor_value_info(name, elem, shape)


def _at(expr, dims):
    return E.evaluate(expr, dims) if not isinstance(expr, int) else expr


@pytest.mark.parametrize("elem", [T.FLOAT, T.FLOAT16])
def test_softmax_rows_of_symbolic_length_get_a_warp_each(elem):
    """BERT attention with dynamic batch and sequence: dlight gave each row a block of 256 threads and shared memory
    (0.29x torch.compile at batch 32, sequence 384)."""
    shape = ("batch", 12, "seq", "seq")
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1), [_vi("x", elem, shape)],
                        [_vi("y", elem, shape)])
    _, low = lower_node(model, SEQ)
    (k,) = [k for k in low.launch_plan.kernels if k.launched([3, 77])]  # 77: the generic kernel, any length
    assert k.block == (32, 4, 1)
    for b, s in ((1, 1), (32, 384), (64, 512), (3, 77)):
        assert _at(k.grid[0], [b, s]) * k.block[1] == b * 12 * s, "a warp per row, every row once"
    body = kernel_bodies(low.cuda_source)
    assert "__shfl_down_sync" in body and "__shared__" not in body and "__syncthreads" not in body
    assert re.search(r"< seq\)", body), "the row's end is a predicate on the symbolic length"


@pytest.mark.parametrize("elem", [T.FLOAT, T.FLOAT16])
def test_rows_of_symbolic_length_load_before_their_predicate(elem):
    """Attention with a dynamic sequence: each step's loads sat under `if (e < seq)` beside their use, one load in
    flight a lane, unrolled or not (53/327/553 us at sequence 128/384/512 on an H200; the static twins 6.8/67.5/117).
    Now a lane walks runs of 4 steps (128 elements a run for 32 lanes), each run's loads issued before its steps'
    predicates from an index kept inside the tensor; the updates and stores stay under them."""
    model = _fused_attention(elem, ("batch", 12, "seq", "seq"), ("batch", 1, 1, "seq"))
    _, low = lower_node(model, SEQ, fuse=True)
    body = kernel_bodies(low.cuda_source)
    assert body.count("< ((seq + 127) >> 7); ++") == 3, "max, sum and normalise: each a loop of runs"
    guarded = _guarded_blocks(body, "seq")
    assert len(guarded) >= 3 * 4, "each step's update or store still under the row's end"
    assert not [b for b in guarded if "in0_ptr[" in b or "in1_ptr[" in b], "no load under a row-length predicate"
    assert len(re.findall(r"in[01]_ptr\[\(.*< seq\) \? .* : 0\)\]", body)) >= 2 * 3 * 4


@pytest.mark.parametrize("elem, vec, vector, lanes", [
    (T.FLOAT, 4, "float4", {64: 8, 96: 8, 128: 16, 192: 16, 256: 32, 384: 32, 512: 32}),
    (T.FLOAT16, 8, "uint4", {128: 8, 192: 8, 256: 16, 384: 16, 512: 32})])
def test_rows_of_whole_vectors_get_a_vector_kernel_per_length_bucket(elem, vec, vector, lanes, tmp_path):
    """Attention with a dynamic sequence reads its rows one element a lane: a row of any length may end inside a
    16-byte vector. It took 2.4-4.3x its static twin's time on an H200, and one vector kernel for every length
    (a warp a row, a vector a lane a run) still took 2x at 512 and lost at 128. Now rows of whole vectors get one
    vector kernel per bucket of lengths, bounded by the ladder 2^k, 3 * 2^k (tpat/schedules/divisible_dims.py):
    lanes a row as the rules give the bucket's longest row (fp16 384: 16 lanes of 3 vectors), a lane's steps
    covering it in one unrolled run; a length on the ladder gets the static row's kernel (no predicate); the
    launcher picks the kernel by the runtime dims (launch_plan.Guard), the generic kernel where the row is not
    whole vectors; the plugin builds."""
    model = _fused_attention(elem, ("batch", 12, "seq", "seq"), ("batch", 1, 1, "seq"))
    _, low = lower_node(model, SEQ, fuse=True)
    kernels = low.launch_plan.kernels
    assert len(kernels) == 1 + 2 * len(lanes) and all(k.when for k in kernels)
    (generic,) = [k for k in kernels if k.launched([3, 77])]
    bounds = sorted(lanes)
    exact = {k.name: s for s in bounds for k in kernels if k.launched([2, s])}
    assert len(set(exact)) == len(bounds), "a kernel of its own at each length on the ladder"
    for b, s in [(1, 1), (3, 77), (2, vec), (5, 129), (7, 500)] + [(4, bound + d) for bound in bounds
                                                                     for d in (-vec, 0, vec) if 0 < bound + d <= 512]:
        (k,) = [k for k in kernels if k.launched([b, s])]
        assert (k is generic) == (s % vec != 0), (b, s)
        assert (k.name in exact) == (s in lanes), (b, s, k.name)
        if k is not generic:
            bucket = next(bound for bound in bounds if s <= bound)
            assert k.block[0] == lanes[bucket], (s, bucket, k.block)
        assert _at(k.grid[0], [b, s]) * _at(k.grid[1], [b, s]) * k.block[1] == b * 12 * s, "every row once"
        assert _at(k.grid[1], [b, s]) == b, "the batch on blockIdx.y: whole rows of one batch a block"
    for k in kernels:
        text = _kernel_body(low.cuda_source, k.name)
        if k is generic:
            assert vector not in text
            continue
        assert "half in1_v" not in text and "float in1_v" not in text, \
            "the mask, broadcast over heads and queries, in vectors too (8 scalar loads a vector before)"
        if k.name in exact:
            assert "seq" not in text and "cse_v" not in text.split("{", 1)[0], "a static row: no length passed"
            assert f"*({vector}*)(in0_ptr" in text and f"*({vector}*)(in1_ptr" in text, "x and the mask in vectors"
        else:
            assert text.count(f"{vector} in0_v") % 3 == 0 and f"{vector} in0_v" in text, "x in vectors, 3 passes"
            assert f"{vector} in1_v" in text, "the mask in vectors, loaded before the predicates"
            assert re.search(r"for \(int ax\d_0 = 0; ax\d_0 < 1; \+\+ax\d_0\)", text), "the bucket's row in one run"
        masks = re.findall(r"in1_ptr \+ \((.*)\)\);", text)
        assert masks and all("blockIdx.y" in m and "/" not in m and "%" not in m for m in masks), \
            "the mask's row found without a division: the batch is blockIdx.y"
        assert re.search(rf"\*\({vector}\*\)\(T_softmax_norm\w*_ptr \+", text), "rows stored in vectors"

    spec = write_spec(tmp_path, {"attn.onnx": model}, {"fuse": [["add", "sm"]]}, tmp_path / "cache",
                      defaults={"validate": False, "dynamic": {"batch": {"min": 1, "opt": 8, "max": 64},
                                                               "seq": {"min": 1, "opt": 384, "max": 512}}})
    proc = tpat_cli("apply", str(spec), "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (launcher,) = (tmp_path / "out").rglob("*_kernels.cu")
    text = launcher.read_text()
    divisible = f"if ((tpat_floormod(dims[1], INT64_C({vec}))) "
    assert text.count(divisible + "== 0") == 2 * len(lanes) and text.count(divisible + "!= 0)") == 1, "a guard each"
    assert list((tmp_path / "out").rglob("lib*_kernels.so")), "the guarded launcher compiles"


def test_a_vector_variant_that_cannot_sit_under_the_launch_test_is_dropped():
    """Rows of symbolic length up to 1024 get a block each, reduced through shared memory with barriers; TVM
    inserts no barrier inside a condition, so the vector variant behind its launch test does not lower ("Cannot
    insert syncs inside condition"): it is dropped and the plugin keeps the generic kernel (it failed to lower
    before the variant was tried on its own)."""
    model = fixed_model(h.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1), [_vi("x", T.FLOAT, (4, "seq"))],
                        [_vi("y", T.FLOAT, (4, "seq"))])
    _, low = lower_node(model, {"seq": DimRange(min=1, opt=128, max=1024)})
    (k,) = low.launch_plan.kernels
    assert not k.when and k.block[0] > 32, "one unguarded kernel, a block a row"


def _kernel_body(src: str, name: str) -> str:
    m = re.search(rf"__global__ void __launch_bounds__\(\d+\) {name}\([^)]*\) \{{\n.*?\n\}}", src, re.S)
    assert m, name
    return m.group(0)


@pytest.mark.parametrize("op, shape, axes", [("ReduceMax", ("batch", 12, "seq"), [-1]),  # a warp a row
                                             ("ReduceSum", ("batch", "seq", 256), [1])])  # a thread a column
def test_reductions_over_a_symbolic_length_load_before_their_predicate(op, shape, axes):
    _, low = lower_node(_reduce(op, shape, axes, 0), SEQ)
    body = kernel_bodies(low.cuda_source)
    guarded = _guarded_blocks(body, "seq")
    assert guarded and not [b for b in guarded if "in0_ptr[" in b], "no load under a row-length predicate"
    assert re.search(r"in0_ptr\[\(.*< seq\) \? .* : 0\)\]", body)


def _guarded_blocks(body: str, dim: str) -> list[str]:
    """The statements under each `if (...)` whose condition reads `dim`."""
    blocks = []
    for m in re.finditer(r"\bif \((.*)\) \{\n", body):
        if not re.search(rf"\b{dim}\b", m.group(1)):
            continue
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            i += 1
        blocks.append(body[m.end():i - 1])
    return blocks


@pytest.mark.parametrize("elem, vector", [(T.FLOAT, "float4"), (T.FLOAT16, "uint4")])
def test_layer_norm_rows_of_a_symbolic_count_are_whole_rows_a_block(elem, vector):
    """(batch, seq, 1024): the row count has no static factor. Four rows a block with the last block's extra rows
    predicated made each 16-byte load conditional, into the registers the previous vector's adds read: a lane's
    loads went one at a time (fp32: 1.5x the static twin's time on an H200). A warp a block, no predicate."""
    gamma, beta = (onnx.numpy_helper.from_array(np.ones(1024, NP_OF[elem]), n) for n in ("g", "b"))
    model = fixed_model(h.make_node("LayerNormalization", ["x", "g", "b"], ["y"], name="ln", axis=-1),
                        [_vi("x", elem, ("batch", "seq", 1024))], [_vi("y", elem, ("batch", "seq", 1024))],
                        inits=[gamma, beta])
    _, low = lower_node(model, SEQ)
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 1, 1)
    assert all(_at(k.grid[0], [b, s]) == b * s for b, s in ((1, 1), (3, 77), (64, 512)))
    body = kernel_bodies(low.cuda_source)
    assert f"*({vector}*)(in0_ptr + " in body and "if (" not in body


@pytest.mark.parametrize("elem", [T.FLOAT, T.FLOAT16])
def test_the_mask_add_fuses_into_the_softmax(elem):
    """[Add(scores, mask), Softmax] as one plugin: one kernel reading both inputs, no workspace for the sum (the Add
    ran as a kernel of its own, writing the whole score tensor out and reading it back)."""
    shape, mask = ("batch", 12, "seq", "seq"), ("batch", 1, 1, "seq")
    model = _fused_attention(elem, shape, mask)
    _, low = lower_node(model, SEQ, fuse=True)
    (k,) = [k for k in low.launch_plan.kernels if k.launched([3, 77])]  # the generic kernel (and a vector one)
    assert low.launch_plan.workspace == 0 and k.block == (32, 4, 1)
    body = kernel_bodies(low.cuda_source)
    assert "in0_ptr[" in body and "in1_ptr[" in body and "__shared__" not in body


def _fused_attention(elem, shape, mask):
    graph = h.make_graph([h.make_node("Add", ["x", "m"], ["s"], name="add"),
                          h.make_node("Softmax", ["s"], ["y"], name="sm", axis=-1)], "g",
                         [_vi("x", elem, shape), _vi("m", elem, mask)], [_vi("y", elem, shape)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def _reduce(op, shape, axes, keepdims, elem=T.FLOAT):
    rank = len(shape)
    norm = sorted(a % rank for a in axes)
    out = [1 if i in norm else d for i, d in enumerate(shape) if keepdims or i not in norm]
    axes_t = onnx.numpy_helper.from_array(np.array(axes, np.int64), "axes")
    return fixed_model(h.make_node(op, ["x", "axes"], ["y"], name="r", keepdims=keepdims), [_vi("x", elem, shape)],
                       [_vi("y", elem, out)], inits=[axes_t], opset=18)


def test_long_rows_on_the_last_axis_get_a_warp_each_in_vectors():
    """ReduceSum over 1024 elements, keepdims: dlight gave each row a block of 1024 threads (0.24x torch.compile)."""
    _, low = lower_node(_reduce("ReduceSum", ("batch", 128, 1024), [-1], 1))
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and _at(k.grid[0], [64]) * 8 == 64 * 128
    body = kernel_bodies(low.cuda_source)
    assert "*(float4*)(in0_ptr + " in body and "__shared__" not in body


def test_short_rows_share_a_warp():
    _, low = lower_node(_reduce("ReduceMean", ("batch", 4096, 64), [-1], 0))
    (k,) = low.launch_plan.kernels
    assert k.block == (8, 32, 1), "8 lanes of 32 bytes a row of 64 floats, 32 rows a block"
    body = kernel_bodies(low.cuda_source)
    assert "*(float4*)(in0_ptr + " in body and "/ 0x1p+6f" in body, "the mean's division in the same kernel"


@pytest.mark.parametrize("shape, axes, keepdims, split, lanes", [
    (("batch", 82, 128), [1], 0, 16, 32),  # a middle axis (TPAT's ReduceMax): 32768 outputs at batch 256
    (("batch", 64, 56, 56), [1], 1, 1, 64),  # channels of NCHW: 802816 outputs fill the GPU alone; 64 | 3136
    (("batch", 256, 512), [0], 0, 4, 64),  # the first axis: the symbolic batch itself is reduced
])
def test_reductions_over_a_kept_inner_axis_split_the_reduced_axis_over_threads(shape, axes, keepdims, split, lanes):
    """dlight gave each output one thread walking the reduced axis: (256, 82, 128) was 32 blocks for 132 SMs. The
    axis is split over threadIdx.y only as far as the outputs leave threads to fill the GPU: each split costs a
    shared-memory tree with a barrier a step (ReduceMax (2048, 82, 128) over axis 1 split 16 ways ran at 31 % of
    the roofline on an H200, 0.38x torch.compile)."""
    _, low = lower_node(_reduce("ReduceMax", shape, axes, keepdims))
    (k,) = low.launch_plan.kernels
    assert k.block == (lanes, split, 1), "256 threads a block, fewer where the outputs would need a predicate"
    outputs = int(np.prod([d if isinstance(d, int) else 256 for i, d in enumerate(shape) if i not in axes]))
    assert _at(k.grid[0], [256]) == -(-outputs // lanes), "a thread column per output, neighbours a block"
    body = kernel_bodies(low.cuda_source)
    assert ("__shared__" in body) == (split > 1), "a cross-thread reduction only where the axis is split"
    assert not re.search(r"for \(int \w+ = 0; \w+ < \d+; ", body), "each thread's walk unrolled"
    assert split > 1 or body.count("in0_red_ptr[") == 1, "accumulated in a register, stored once"
    assert split > 1 or "if (" not in body, "whole columns a block: no predicate around the loads"


def test_a_reduced_axis_of_symbolic_length_is_walked_in_unrolled_runs():
    """ReduceSum over the symbolic batch: a loop of ceildiv(batch, 16) steps, not unrolled, had one load in flight
    a thread (symbolic build 51 us, static twin 35.6 on an H200)."""
    _, low = lower_node(_reduce("ReduceSum", ("batch", 256, 512), [0], 0))
    body = kernel_bodies(low.cuda_source)
    loop = re.search(r"for \(int (\w+) = 0; \w+ < \(\(batch \+ 31\) >> 5\); \+\+\w+\) \{(.*?)\n  \}", body, re.S)
    assert loop, "runs of 8 steps a thread, 4 threads a column"
    assert loop.group(2).count("in0_ptr[") == 8, "the run's 8 steps unrolled, each predicated on the batch"


def test_a_non_contiguous_axis_set_gets_a_warp_per_output():
    """[1, 3] of (batch, 64, 128, 32): each warp reads 32 contiguous floats of one output's rows at a time."""
    _, low = lower_node(_reduce("ReduceSum", ("batch", 64, 128, 32), [1, 3], 0))
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and _at(k.grid[0], [8]) * 8 == 8 * 128
    assert "__shared__" not in kernel_bodies(low.cuda_source)


def test_several_trailing_axes_are_one_contiguous_row():
    _, low = lower_node(_reduce("ReduceMean", ("batch", 256, 32, 32), [2, 3], 1))
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and "*(float4*)(in0_ptr + " in kernel_bodies(low.cuda_source)


def test_log_sum_exp_lowers():
    """ReduceLogSumExp's max with keepdims crashed dlight's GEMV rule (an assertion): the row rule takes it."""
    _, low = lower_node(_reduce("ReduceLogSumExp", ("batch", 128, 1000), [-1], 0))
    assert all(k.block[0] * k.block[1] <= 1024 for k in low.launch_plan.kernels)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean"])
def test_half_precision_sums_accumulate_in_fp32(op):
    """TVM added fp16 in fp16 (every partial sum rounded to 11 bits); one kernel still, rounding once at the end."""
    _, low = lower_node(_reduce(op, ("batch", 128, 1024), [-1], 1, T.FLOAT16))
    (k,) = low.launch_plan.kernels
    body = kernel_bodies(low.cuda_source)
    assert "float in_thread_" in body and "half in_thread" not in body and "((half)" in body


@pytest.mark.parametrize("axis, keepdims, mean", [([1], True, False), ([0, 2], False, True), (None, False, True)])
def test_fp32_accumulation_matches_numpy(axis, keepdims, mean):
    """The legalization's math, compiled for the CPU (LLVM) and run."""
    import tvm
    from tvm import te

    from tpat.schedules.accumulate import sum_accumulated

    x = te.placeholder((3, 700, 5), "float16", name="x")
    f = te.create_prim_func([x, sum_accumulated(x, axis, keepdims, mean)])
    ex = tvm.compile(tvm.IRModule({"main": f}), target="llvm")
    a = np.random.default_rng(0).standard_normal((3, 700, 5)).astype(np.float16)
    want = (a.astype(np.float32).mean if mean else a.astype(np.float32).sum)(
        axis=None if axis is None else tuple(axis), keepdims=keepdims).astype(np.float16)
    out = tvm.runtime.empty(want.shape, "float16", tvm.cpu())
    ex["main"](tvm.runtime.tensor(a, tvm.cpu()), out)
    np.testing.assert_array_equal(out.numpy(), want)


@pytest.mark.parametrize("op, kernel, stride, pads", [("AveragePool", 2, 2, 0), ("MaxPool", 3, 2, 1)])
def test_pooling_windows_get_a_thread_per_output(op, kernel, stride, pads):
    """dlight's Reduction gave each output of a 2x2 AveragePool a block of 4 threads (6.4 million blocks for
    (64, 128, 56, 56)): a small window read at x[2h + i, 2w + j] is walked by one thread."""
    size = (56 + 2 * pads - kernel) // stride + 1
    node = h.make_node(op, ["x"], ["y"], name="p", kernel_shape=[kernel, kernel], strides=[stride, stride],
                       pads=[pads] * 4)
    model = fixed_model(node, [_vi("x", T.FLOAT, ("batch", 128, 56, 56))],
                        [_vi("y", T.FLOAT, ("batch", 128, size, size))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1)
    assert all(_at(k.grid[0], [b]) * 256 >= b * 128 * size * size > (_at(k.grid[0], [b]) - 1) * 256 for b in (1, 3))


def test_half_precision_pooling_walks_two_windows_a_thread():
    """MaxPool 3x3/2 fp16 took as long as fp32 on an H200 (38.2 against 37.4 us, 0.71x torch.compile): a thread per
    output is instruction-bound at 2 bytes an output. A thread now walks the windows of two adjacent outputs (a
    4-byte word of them), sharing the index math of their row: 32.8 us. The word's windows accumulated in place in
    the output, each tap's update a store (10 a thread); now in registers, the word stored once as a half2 (27.2 us,
    torch.compile 27.1)."""
    node = h.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    model = fixed_model(node, [_vi("x", T.FLOAT16, ("batch", 64, 112, 112))],
                        [_vi("y", T.FLOAT16, ("batch", 64, 56, 56))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (256, 1, 1)
    assert all(_at(k.grid[0], [b]) * 256 * 2 == b * 64 * 56 * 56 for b in (1, 3)), "two outputs a thread"
    body = kernel_bodies(low.cuda_source)
    assert body.count("= __float2half_rn(-0x1.ffcp+15f") >= 2, "two windows, each from the lowest half"
    assert re.search(r"half pool_max_local_ptr\[2\];", body), "the word's accumulator: two halves in registers"
    assert "pool_max_ptr[" not in body and body.count("*(half2*)(pool_max_ptr + ") == 1, "one store, a half2"


def test_padded_taps_are_selected_not_branched_around():
    """MaxPool 3x3/2 pads 1 fp32: the taps that may fall on the padding were branches (`if (inside) v = x[i]`),
    the running maximum kept in the output across them (6 stores a thread), 37.3 us on an H200. Each such tap now
    loads unconditionally from an index kept inside the input (`inside ? i : 0`) and selects; the maximum is a
    register, stored once (tpat/schedules/padded_taps.py)."""
    node = h.make_node("MaxPool", ["x"], ["y"], name="p", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    model = fixed_model(node, [_vi("x", T.FLOAT, ("batch", 64, 112, 112))],
                        [_vi("y", T.FLOAT, ("batch", 64, 56, 56))])
    _, low = lower_node(model)
    body = kernel_bodies(low.cuda_source)
    taps = re.findall(r"float in0_tap\w* = in0_ptr\[\((.*)\) \? in0_at\w+ : 0\)\];", body)
    assert len(taps) == 5, "the 5 taps that may fall on the top or left padding"
    assert "if (" not in body and "condval" not in body
    assert body.count("pool_max_ptr[") == 1, "the maximum stored once"


def test_a_dot_of_two_vectors_keeps_its_scalar_in_place():
    """MatMul (3,) x (3,): a small window whose result is a scalar. The register accumulator flattened the output's
    axes, and a scalar has none (13 of ONNX's node tests failed with an IndexError): it stays in place."""
    node = h.make_node("MatMul", ["a", "b"], ["y"], name="dot")
    model = fixed_model(node, [_vi("a", T.FLOAT, (3,)), _vi("b", T.FLOAT, (3,))], [_vi("y", T.FLOAT, ())])
    _, low = lower_node(model, {})
    assert len(low.launch_plan.kernels) == 1


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_reductions_get_a_warp_per_row(op):
    """ArgMax over rows of 1000: dlight gave each row a block of 256 threads reducing (index, value) pairs through
    shared memory (0.44x torch.compile on an H200). The pair is one output element of a tuple reduction: a warp per
    row, the pairs combined by shuffles, first of ties kept (the combiner compares indices)."""
    node = h.make_node(op, ["x"], ["y"], name="a", axis=-1, keepdims=0)
    model = fixed_model(node, [_vi("x", T.FLOAT, ("batch", 128, 1000))], [_vi("y", T.INT64, ("batch", 128))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    assert k.block == (32, 8, 1) and _at(k.grid[0], [64]) * 8 == 64 * 128
    body = kernel_bodies(low.cuda_source)
    assert body.count("__shfl_down_sync") == 10 and "__shared__" not in body, "index and value, 5 steps each"
