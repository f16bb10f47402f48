"""Gathers in dynamic mode (issue 15): GatherElements with a dynamic batch lowers to one kernel (the static dim its
index normalisation reads folds to a constant, tpat/schedules/shape_lookup.py; a dim passed to a kernel as a value
is a scalar argument, tpat/lowering/launch_reader.py), and a gather of symbolic size is judged large or small at
the declared maxima of its dims (tpat/schedules/elementwise.py)."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import kernel_bodies, lower_node
from tpat.ir import expr as E
from tpat.spec import DimRange


def _model(node, inputs, outputs, inits=()):
    graph = h.make_graph([node], "g", inputs, outputs, initializer=list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def _gather_elements(batch="batch"):
    return _model(h.make_node("GatherElements", ["x", "i"], ["y"], name="ge", axis=1),
                  [h.make_tensor_value_info("x", T.FLOAT, (batch, 1024, 64)),
                   h.make_tensor_value_info("i", T.INT64, (batch, 256, 64))],
                  [h.make_tensor_value_info("y", T.FLOAT, (batch, 256, 64))])


def test_gather_elements_with_a_dynamic_batch_is_one_kernel():
    """It failed to lower ("kernel argument batch has no known storage"): the frontend read dim 1 of the data as
    take(shape_to_tensor(shape_of(x)), 1), two one-thread kernels before the gather."""
    _, low = lower_node(_gather_elements())
    (k,) = low.launch_plan.kernels
    assert "gather" in k.name and low.launch_plan.workspace == 0
    assert [E.evaluate(k.grid[0], [b]) * k.block[0] * 8 >= b * 256 * 64 for b in (1, 3, 256)] == [True] * 3


def test_a_gathers_contiguous_index_tensor_is_read_in_vectors():
    """GatherElements' elements read the data at their own loaded indices, so they are no vector; its index tensor
    is still read contiguously, a thread's elements in a row. Staged by 16-byte loads (two int64 a load) instead
    of a scalar load an element (H200, (256, 1024, 64) gathered at (256, 256, 64) fp16: 0.81x torch.compile with
    scalar index loads)."""
    _, low = lower_node(_gather_elements())
    body = kernel_bodies(low.cuda_source)
    loads = re.findall(r"\*\(longlong2\*\)\(in1_local_ptr \+ (\d+)\) = \*\(longlong2\*\)\(in1_ptr \+", body)
    assert loads and set(loads) == {"0", "2"}, "a thread's 4 indices (fp32: 4 elements) in two 16-byte loads"
    assert not re.search(r"[^*]in1_ptr\[", body), "no scalar read of the indices left"


def test_the_folded_dim_normalises_negative_indices_as_onnxruntime_does():
    """The relax module with the fold, legalized and compiled for the CPU (LLVM), batch symbolic, against
    onnxruntime on indices of both signs."""
    import onnxruntime as ort
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    from tpat.schedules.pipeline import legalize_map
    from tpat.schedules.shape_lookup import fold_static_dim_lookups

    model = _gather_elements()
    mod = fold_static_dim_lookups()(from_onnx(model, keep_params_in_input=False))
    assert "R.take(" not in mod["main"].script(), "the static dim is a constant now"
    mod = relax.transform.LegalizeOps(customize_legalize_map=legalize_map())(mod)
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1024, 64)).astype(np.float32)
    i = rng.integers(-1024, 1024, (3, 256, 64))
    got = vm["main"](tvm.runtime.tensor(x, tvm.cpu()), tvm.runtime.tensor(i, tvm.cpu())).numpy()
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x, "i": i})[0]
    np.testing.assert_array_equal(got, want)


def _one_hot(indices, elem):
    """OneHot of depth 1000 over `indices` (a shape), values (0, 1) of `elem`."""
    values = np.array([0, 1], np.float32 if elem == T.FLOAT else np.float16)
    return _model(h.make_node("OneHot", ["i", "depth", "values"], ["y"], name="oh", axis=-1),
                  [h.make_tensor_value_info("i", T.INT64, indices)],
                  [h.make_tensor_value_info("y", elem, (*indices, 1000))],
                  [onnx.numpy_helper.from_array(np.array(1000, np.int64), "depth"),
                   onnx.numpy_helper.from_array(values, "values")])


def test_a_gather_large_at_its_declared_maxima_gives_a_thread_two_vectors():
    """OneHot (batch, 26, 1000), batch up to 4096: two vectors a thread, as the static build of a large batch has
    (66 us symbolic against 50 us static at batch 2048 on an H200 with one)."""
    model = _one_hot(("batch", 26), T.FLOAT)
    _, low = lower_node(model, {"batch": DimRange(min=1, opt=2048, max=4096)})
    (k,) = low.launch_plan.kernels
    assert E.evaluate(k.grid[0], [2048]) * k.block[0] * 2 * 4 == 2048 * 26 * 1000
    stores = re.findall(r"\*\(float4\*\)\(compute_intermediate_ptr \+ [^;]*;", kernel_bodies(low.cuda_source))
    assert len(stores) == 2, "two 16-byte stores a thread"


def test_a_square_transpose_is_not_read_as_if_elementwise():
    """(batch, 512, 512) -> perm [0, 2, 1]: the input has the output's shape but is read transposed; taking it for an
    elementwise operand (vector loads at the output's index) made TVM fail to lower it."""
    model = _model(h.make_node("Transpose", ["x"], ["y"], name="t", perm=[0, 2, 1]),
                   [h.make_tensor_value_info("x", T.FLOAT, ("batch", 512, 512))],
                   [h.make_tensor_value_info("y", T.FLOAT, ("batch", 512, 512))])
    _, low = lower_node(model)
    (k,) = low.launch_plan.kernels
    # a 32 x 32 tile a block (tpat/schedules/transpose.py), 4 elements a thread
    assert E.evaluate(k.grid[0], [3]) * k.block[0] * 4 == 3 * 512 * 512
    assert "*(float4*)(in0_ptr" not in kernel_bodies(low.cuda_source), "no vector load across the transpose"


def test_a_half_precision_one_hot_lowers():
    """The frontend computes OneHot in fp64; vectorised over an fp16 output's 8 lanes that is float64x8, which
    CUDA has no type for (TVM failed to lower (2048, 26, 1000) fp16). Such gathers are unrolled instead."""
    model = _one_hot((2048, 26), T.FLOAT16)
    _, low = lower_node(model, {})
    (k,) = low.launch_plan.kernels
    assert k.grid[0] * k.block[0] * 8 == 2048 * 26 * 1000, "a vector of 8 halves a thread"
    assert len(re.findall(r"\*\(uint4\*\)\(compute_intermediate_ptr \+ ", kernel_bodies(low.cuda_source))) == 1


def test_a_symbolic_one_hot_bounds_its_rows_without_a_64_bit_division():
    """OneHot (batch, 26, 1000) fp16 with a dynamic batch: the tail's predicate found the thread's row by a 64-bit
    division (`thread // 125 < rows`, the rows an int64 parameter), 39.0 us on an H200 against the static twin's
    35.5. It compares `thread < rows * 125` now (schedules/division_free_bounds.py), exact for floor division."""
    model = _one_hot(("batch", 26), T.FLOAT16)
    _, low = lower_node(model, {"batch": DimRange(min=1, opt=2048, max=4096)})
    body = kernel_bodies(low.cuda_source)
    conds = re.findall(r"if \((.*)\) \{\n\s+half4", body)  # each half of the 8 lanes under the tail's test
    assert conds and all("/" not in c and "* (int64_t)125)" in c for c in conds), conds


@pytest.mark.parametrize("elem", [T.FLOAT16, T.FLOAT])
def test_one_hot_values_are_converted_at_compile_time(elem):
    """The frontend's one-hot values are doubles, cast to the output's type an element: 8 F2F.F16.F64 conversions
    (an eighth of the fp32 rate) a 16-byte vector of fp16, 38.2 us on an H200 for (2048, 26, 1000), 65 % of the
    roofline. The select now chooses between the converted constants (schedules/constant_casts.py): 36.9."""
    model = _one_hot(("batch", 26), elem)
    _, low = lower_node(model, {"batch": DimRange(min=1, opt=2048, max=4096)})
    body = kernel_bodies(low.cuda_source)
    assert "double" not in body
    if elem == T.FLOAT16:
        assert "make_half4(__float2half_rn(0x1p+0f" in body, "the one, converted, in a vector of halves"


def test_a_multi_output_kernel_writes_each_output():
    """Split into three: TVM returns its outputs as a tuple picked apart by TupleGetItem, which the launch plan
    reader refused; each output is now traced to the kernel writing it."""
    model = _model(h.make_node("Split", ["x"], ["a", "b", "c"], name="sp", axis=-1),
                   [h.make_tensor_value_info("x", T.FLOAT, ("batch", 128, 768))],
                   [h.make_tensor_value_info(n, T.FLOAT, ("batch", 128, 256)) for n in "abc"])
    model.opset_import[0].version = 18
    model.graph.node[0].attribute.append(h.make_attribute("num_outputs", 3))
    _, low = lower_node(model)
    written = sorted(a.index for k in low.launch_plan.kernels for a in k.args if a.kind == "output")
    assert written == [0, 1, 2]
