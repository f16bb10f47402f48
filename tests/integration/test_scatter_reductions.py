"""tpat's scatters with a reduction (tpat/schedules/scatter_elements.py, scatter_nd.py, atomics.py): one thread per
update, atomics where updates collide, for every reduction mode ONNX has.

The values are checked on the CPU: the ONNX model goes through TVM's relax frontend and tpat's legalizations, is
compiled for LLVM (where the kernels' threads run as one loop and the atomic update is a plain read-modify-write)
and compared with onnxruntime on inputs with many duplicate indices. The CUDA kernels' structure is read from the
launch plan and the source; their speed is in benchmarks/ (breadth suite).
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import fixed_model, kernel_bodies, lower_node
from tpat.ir import expr as E

ELEM = {"float32": T.FLOAT, "float16": T.FLOAT16, "int32": T.INT32, "int64": T.INT64}


def _scatter_elements(data_shape, idx_shape, axis, reduction, dtype="float32"):
    node = h.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], name="se", axis=axis,
                       reduction=reduction)
    return fixed_model(node, [h.make_tensor_value_info("data", ELEM[dtype], data_shape),
                              h.make_tensor_value_info("indices", T.INT64, idx_shape),
                              h.make_tensor_value_info("updates", ELEM[dtype], idx_shape)],
                       [h.make_tensor_value_info("y", ELEM[dtype], data_shape)], opset=18)


def _scatter_nd(data_shape, idx_shape, reduction):
    upd_shape = tuple(idx_shape[:-1]) + tuple(data_shape[idx_shape[-1]:])
    node = h.make_node("ScatterND", ["data", "indices", "updates"], ["y"], name="snd", reduction=reduction)
    return fixed_model(node, [h.make_tensor_value_info("data", T.FLOAT, data_shape),
                              h.make_tensor_value_info("indices", T.INT64, idx_shape),
                              h.make_tensor_value_info("updates", T.FLOAT, upd_shape)],
                       [h.make_tensor_value_info("y", T.FLOAT, data_shape)], opset=18)


def _inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        if vi.name == "indices":
            arrays.append(None)
        elif dtype.kind == "f":
            arrays.append(rng.uniform(0.5, 1.5, shape).astype(dtype) * rng.choice([-1, 1], shape).astype(dtype))
        else:
            arrays.append(rng.integers(-50, 50, shape).astype(dtype))
    node = model.graph.node[0]
    data = arrays[0]
    idx_vi = model.graph.input[1]
    idx_shape = [d.dim_value for d in idx_vi.type.tensor_type.shape.dim]
    if node.op_type == "ScatterND":
        bounds = np.array(data.shape[:idx_shape[-1]])
        idx = (rng.random(idx_shape) * bounds).astype(np.int64)  # many tuples repeat
    else:
        axis = onnx.helper.get_attribute_value(node.attribute[0]) % data.ndim
        n = data.shape[axis]
        idx = rng.integers(-n, n, idx_shape)  # negative indices too; many repeat
    arrays[1] = idx
    return arrays


def _tvm_cpu(model, arrays):
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    from tpat.schedules.pipeline import legalize_map

    mod = relax.transform.LegalizeOps(customize_legalize_map=legalize_map())(from_onnx(model))
    names = [gv.name_hint for gv, f in mod.functions.items() if isinstance(f, tvm.tirx.PrimFunc)]
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    return vm["main"](*[tvm.runtime.tensor(a, tvm.cpu()) for a in arrays]).numpy(), names


def _onnxruntime(model, arrays):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # its CPU ScatterND with a reduction races on duplicates when threaded
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})[0]


@pytest.mark.parametrize("reduction", ["add", "mul", "min", "max"])
@pytest.mark.parametrize("axis, data_shape, idx_shape, dtype", [
    (0, (50, 8), (300, 8), "float32"),  # GNN-like: many messages onto few rows
    (1, (4, 30, 5), (4, 70, 3), "float32"),  # a middle axis, indices smaller than data on the other axes
    (-1, (6, 20), (6, 45), "int64"),
    (0, (40, 6), (90, 6), "int32"),
])
def test_scatter_elements_matches_onnxruntime(reduction, axis, data_shape, idx_shape, dtype):
    model = _scatter_elements(data_shape, idx_shape, axis, reduction, dtype)
    arrays = _inputs(model)
    got, names = _tvm_cpu(model, arrays)
    assert "scatter_elements_flat" in names, "tpat's flat scatter, not TVM's"
    want = _onnxruntime(model, arrays)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 0)


def test_scatter_elements_without_reduction_matches_onnxruntime():
    model = _scatter_elements((8, 30), (8, 12), 1, "none")
    arrays = _inputs(model)
    rng = np.random.default_rng(3)
    arrays[1] = np.stack([rng.permutation(30)[:12] for _ in range(8)]) - 30 * (rng.random((8, 12)) < 0.5)
    got, names = _tvm_cpu(model, arrays)
    assert "scatter_elements_flat" in names
    np.testing.assert_array_equal(got, _onnxruntime(model, arrays))


@pytest.mark.parametrize("reduction", ["mul", "min", "max"])  # (add had its flat kernel already)
def test_scatter_nd_reductions_match_onnxruntime(reduction):
    model = _scatter_nd((6, 10, 4), (40, 2), reduction)
    arrays = _inputs(model)
    got, names = _tvm_cpu(model, arrays)
    assert any(n.startswith("scatter_nd_flat") for n in names)
    np.testing.assert_allclose(got, _onnxruntime(model, arrays), rtol=1e-5)


def test_a_gnn_aggregation_is_a_parallel_scatter_with_atomic_adds():
    """40,000 messages of 64 features onto 10,000 nodes: TVM's kernel ran 64 threads, each looping over the 40,000
    messages; here every update has its thread and no kernel loops over the scatter axis."""
    _, low = lower_node(_scatter_elements((10000, 64), (40000, 64), 0, "add"))
    scatter = low.launch_plan.kernels[-1]
    assert scatter.grid[0] * scatter.block[0] >= 40000 * 64 and scatter.grid[0] > 1000
    body = kernel_bodies(low.cuda_source)
    assert "for (" not in body, "no serial loop in any kernel"
    assert "atomic_add(" in body


@pytest.mark.parametrize("reduction, dtype, helper", [("max", "float32", "tpat_atomic_max"),
                                                      ("min", "float16", "tpat_atomic_min"),
                                                      ("mul", "float32", "tpat_atomic_mul"),
                                                      ("add", "int64", "tpat_atomic_add")])
def test_reductions_without_a_native_atomic_use_tpats_helpers(reduction, dtype, helper):
    _, low = lower_node(_scatter_elements((64, 32), (256, 32), 0, reduction, dtype))
    src = low.cuda_source
    assert len(re.findall(rf"\b{helper}\(\(&", kernel_bodies(src))) == 1, "one atomic update per thread"
    assert src.count("tpat_atomic_cas(T* address") == 1, "the helpers, defined once, before the kernels"
    assert src.index("tpat_atomic_cas(T* address") < src.index("__global__")


def test_scatter_nd_mul_runs_a_thread_per_update():
    model = fixed_model(h.make_node("ScatterND", ["d", "i", "u"], ["y"], name="s", reduction="mul"),
                        [h.make_tensor_value_info("d", T.FLOAT, (4, 8)), h.make_tensor_value_info("i", T.INT64, (3, 1)),
                         h.make_tensor_value_info("u", T.FLOAT, (3, 8))],
                        [h.make_tensor_value_info("y", T.FLOAT, (4, 8))], opset=18)
    _, low = lower_node(model)
    assert low.launch_plan.kernels[-1].name.startswith("scatter_nd_flat")
    assert "tpat_atomic_mul((&" in kernel_bodies(low.cuda_source)


def test_a_dynamic_number_of_updates_sizes_the_grid():
    node = h.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], name="se", axis=0,
                       reduction="add")
    model = fixed_model(node, [h.make_tensor_value_info("data", T.FLOAT, (100, 16)),
                               h.make_tensor_value_info("indices", T.INT64, ("batch", 16)),
                               h.make_tensor_value_info("updates", T.FLOAT, ("batch", 16))],
                        [h.make_tensor_value_info("y", T.FLOAT, (100, 16))], opset=18)
    _, low = lower_node(model)
    scatter = low.launch_plan.kernels[-1]
    assert [E.evaluate(scatter.grid[0], [b]) * scatter.block[0] >= b * 16 for b in (1, 77, 256)] == [True] * 3
