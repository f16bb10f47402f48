"""Loops whose extent is read from tensor data (RoiAlign, sampling_ratio=0: samples per bin from each ROI's size):
threads over the shape-sized loops only, so the launch is computed from shapes (issue 18, TPAT's test_roi_align)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import extract_node, fixed_model, lower_node

ROIS = np.array([[0.0, 0.0, 9.0, 9.0], [0.5, 1.5, 7.3, 8.1], [2.0, 3.0, 4.2, 9.9]], np.float32)


def _roi_align(mode: str = "avg"):
    node = h.make_node("RoiAlign", ["x", "rois", "batch"], ["y"], name="roi", output_height=5, output_width=5,
                       sampling_ratio=0, mode=mode)
    return fixed_model(node, [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 10, 10]),
                              h.make_tensor_value_info("rois", T.FLOAT, [3, 4]),
                              h.make_tensor_value_info("batch", T.INT64, [3])],
                       [h.make_tensor_value_info("y", T.FLOAT, [3, 1, 5, 5])], opset=16)


def test_adaptive_sampling_launches_from_shapes_only():
    """The grid and block are numbers: one thread per output element (3*1*5*5 = 75), sampling loops serial."""
    _, lowered = lower_node(_roi_align(), {})
    (kernel,) = lowered.launch_plan.kernels
    assert kernel.grid == (1, 1, 1) and kernel.block == (256, 1, 1), (kernel.grid, kernel.block)


def test_adaptive_sampling_schedule_matches_onnxruntime_on_the_cpu():
    """The rule's schedule (threads as serial loops) run on LLVM inside the fused module, against onnxruntime."""
    import onnxruntime as ort
    import tvm
    from tvm import relax, tirx

    from tpat.lowering.frontend import fused, import_onnx, target_for
    from tpat.schedules.data_dependent import has_data_dependent_extent, threads_over_shapes

    x = np.random.default_rng(0).random((1, 1, 10, 10), np.float32)
    batch = np.zeros(3, np.int64)
    for mode in ("avg", "max"):
        model = _roi_align(mode)
        ex = extract_node(model, {})
        with target_for("sm_90") as target:
            mod = fused(import_onnx(ex.subgraph, ex.signature, "roi"), target)
        scheduled = [gv for gv, f in mod.functions.items()
                     if isinstance(f, tirx.PrimFunc) and has_data_dependent_extent(f)]
        assert scheduled, "RoiAlign's sampling loops are no longer read from the ROIs: this test checks nothing"
        for gv in scheduled:
            mod.update_func(gv, threads_over_shapes(mod[gv], bind=False).mod["main"])
        vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
        feeds = dict(zip(ex.input_names, [x, ROIS, batch]))
        got = vm["main"](*[tvm.runtime.tensor(feeds[n]) for n in ex.input_names])
        want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x, "rois": ROIS, "batch": batch})[0]
        np.testing.assert_allclose((got if hasattr(got, "numpy") else got[0]).numpy(), want, rtol=1e-5, atol=1e-6)


def test_a_reduction_beside_the_data_dependent_loop_keeps_its_reduced_loop_serial():
    """Only loops of spatial vars become threads: a thread per reduced element would race on the sum."""
    from tvm.script import tirx as T

    from tpat.schedules.data_dependent import threads_over_shapes

    @T.prim_func(private=True, s_tir=True)
    def func(a: T.Buffer((16, 8), "float32"), n: T.Buffer((1,), "int32"), b: T.Buffer((16,), "float32"),
             c: T.Buffer((16,), "float32")):
        for i, k in T.grid(16, 8):
            with T.sblock("sum"):
                vi, vk = T.axis.remap("SR", [i, k])
                with T.init():
                    b[vi] = T.float32(0)
                b[vi] = b[vi] + a[vi, vk]
        for i in range(16):
            with T.sblock("prefix"):
                vi = T.axis.spatial(16, i)
                T.reads(a[vi, 0:8], n[0])
                T.writes(c[vi])
                c[vi] = T.float32(0)
                for j in range(n[0]):
                    c[vi] = c[vi] + a[vi, j]

    sch = threads_over_shapes(func)
    from tvm.tirx import ForKind

    loops = [sch.get(loop) for loop in sch.get_loops(sch.get_sblock("sum"))]
    assert [(int(loop.kind), int(loop.extent)) for loop in loops] == [
        (int(ForKind.THREAD_BINDING), 1), (int(ForKind.THREAD_BINDING), 256), (int(ForKind.SERIAL), 8)]
