"""tpat's exact-coordinate Resize (tpat/schedules/resize.py): same values as onnxruntime, and the loads it shares.

The values are checked on the CPU: the ONNX model goes through TVM's relax frontend and tpat's legalization, is
compiled for LLVM and run, and is compared with onnxruntime on the same input. The GPU validation (tests/gpu) runs
the generated CUDA against onnxruntime too; its speed is in benchmarks/.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import fixed_model, kernel_bodies, lower_node

ELEM = {"float32": T.FLOAT, "float16": T.FLOAT16}


def _resize(in_shape, out_hw, mode="half_pixel", dtype="float32", method="linear"):
    out_shape = tuple(in_shape[:2]) + tuple(out_hw)
    sizes = onnx.numpy_helper.from_array(np.array(out_shape, np.int64), "sizes")
    node = h.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="rs", mode=method,
                       coordinate_transformation_mode=mode)
    return fixed_model(node, [h.make_tensor_value_info("x", ELEM[dtype], in_shape)],
                  [h.make_tensor_value_info("y", ELEM[dtype], out_shape)], inits=[sizes], opset=19)


def _tvm_cpu(model, x):
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    from tpat.schedules.pipeline import legalize_map

    mod = relax.transform.LegalizeOps(customize_legalize_map=legalize_map())(from_onnx(model))
    scripts = [f.script() for f in mod.functions.values() if isinstance(f, tvm.tirx.PrimFunc)]
    float_roundings = sum(s.count(f"T.{r}(") for s in scripts for r in ("floor", "ceil", "round"))
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    return vm["main"](tvm.runtime.tensor(x, tvm.cpu())).numpy(), float_roundings


def _onnxruntime(model, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("in_shape, out_hw, mode", [
    ((2, 3, 4, 5), (16, 20), "half_pixel"),  # integer ratios: constant weights
    ((1, 2, 11, 12), (44, 50), "half_pixel"),  # 12 -> 50: a ratio of 25/6, taps cross within a vector
    ((1, 2, 3, 4), (16, 20), "pytorch_half_pixel"),
    ((1, 2, 6, 8), (1, 20), "pytorch_half_pixel"),  # one output row: source coordinate 0
    ((1, 2, 5, 7), (9, 20), "align_corners"),
    ((1, 2, 5, 6), (13, 24), "asymmetric"),
    ((1, 2, 16, 20), (5, 7), "half_pixel"),  # downsampling: taps spread over the row, no shared window
])
def test_exact_resize_matches_onnxruntime(in_shape, out_hw, mode):
    model = _resize(in_shape, out_hw, mode)
    x = np.random.default_rng(1).standard_normal(in_shape).astype(np.float32)
    got, float_roundings = _tvm_cpu(model, x)
    assert float_roundings == 0, "tpat's integer coordinates, not TVM's float ones"
    np.testing.assert_allclose(got, _onnxruntime(model, x), rtol=1e-5, atol=2e-6)


def test_exact_resize_in_half_precision():
    model = _resize((1, 4, 6, 8), (24, 32), dtype="float16")
    x = np.random.default_rng(2).standard_normal((1, 4, 6, 8)).astype(np.float16)
    got, _ = _tvm_cpu(model, x)
    np.testing.assert_allclose(got.astype(np.float32), _onnxruntime(model, x).astype(np.float32), atol=2e-3)


def test_other_resizes_keep_tvms_legalization():
    model = _resize((1, 2, 4, 5), (8, 10), method="nearest")  # not what the exact form covers
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 5)).astype(np.float32)
    got, float_roundings = _tvm_cpu(model, x)
    assert float_roundings > 0, "TVM's own resize2d"
    np.testing.assert_allclose(got, _onnxruntime(model, x))


def _gathered_addresses(body: str) -> set[str]:
    """The distinct index expressions of the input's loads, brackets balanced."""
    found, at = set(), 0
    while (at := body.find("in0_ptr[", at)) >= 0:
        end, depth = at + len("in0_ptr["), 1
        while depth:
            depth += {"[": 1, "]": -1}.get(body[end], 0)
            end += 1
        found.add(body[at + len("in0_ptr["):end - 1])
        at = end
    return found


def test_a_4x_upsample_reads_each_source_pixel_once_per_vector():
    """(32,32,44,50) -> (176,200), TPAT's benchmark shape: a vector's 4 outputs take 3 source columns of 2 rows, so
    a thread's two vectors make 12 distinct loads (TVM's float coordinates gave 32), with constant weights and no
    float floor."""
    _, low = lower_node(_resize((32, 32, 44, 50), (176, 200)))
    body = kernel_bodies(low.cuda_source)
    assert len(_gathered_addresses(body)) == 2 * 3 * 2, "2 vectors x 3 columns x 2 rows"
    assert "floorf" not in body and "0x1.8p-2f/*3.750000e-01*/" in body, "no float floor, constant weights (3/8)"


def test_a_fractional_upsample_shares_a_window_per_vector():
    """12 -> 200 columns (ratio 50/3): a vector's 4 outputs read one window of 3 source columns."""
    _, low = lower_node(_resize((32, 64, 11, 12), (176, 200)))
    assert len(_gathered_addresses(kernel_bodies(low.cuda_source))) == 2 * 3 * 2


def test_a_downsample_reads_two_columns_per_output():
    """20 -> 7 columns: taps far apart, so no shared window (each output its own two columns)."""
    _, low = lower_node(_resize((64, 32, 16, 20), (5, 8)))
    body = kernel_bodies(low.cuda_source)
    assert "floorf" not in body and len(_gathered_addresses(body)) > 2 * 3 * 2
