"""tpat.trt.commands: the ready trtexec / Polygraphy lines for a converted model."""

from __future__ import annotations

import shlex

import onnx
from onnx import TensorProto as T
from onnx import helper as h

import op_models
from tpat.ir.signature import DimSpec
from tpat.trt import commands as C

BATCH = [DimSpec("batch", "batch", 1, 128, 256, 0, 0)]


def test_profiles_fill_the_batch_and_skip_initializers():
    model = op_models.scatter_nd()
    profiles = C.input_profiles(model, C.dim_ranges(BATCH))
    assert [(p.name, p.min, p.opt, p.max) for p in profiles] == [
        ("data", (1, 16, 8), (128, 16, 8), (256, 16, 8)),
        ("indices", (1, 5, 2), (128, 5, 2), (256, 5, 2)),
        ("updates", (1, 5, 8), (128, 5, 8), (256, 5, 8))]
    ln = C.input_profiles(op_models.layer_norm(), C.dim_ranges([d.to_json() for d in BATCH]))
    assert [p.name for p in ln] == ["x"]  # gamma/beta are initializers


def test_tpat_zero_batch_convention_and_unresolved_dims():
    x = h.make_tensor_value_info("x", T.FLOAT, [0, 3])
    y = h.make_tensor_value_info("y", T.FLOAT, ["seq", 4])
    model = h.make_model(h.make_graph([], "g", [x, y], []))
    a, b = C.input_profiles(model, C.dim_ranges(BATCH))
    assert (a.min, a.opt, a.max) == ((1, 3), (128, 3), (256, 3))
    assert b.unresolved == ["<seq>"] and b.dynamic
    out = C.commands(model, C.dim_ranges(BATCH), "m.tpat.onnx", ["lib/p.so"])
    assert "--minShapes=x:1x3,y:<seq>x4" in shlex.split(out["trtexec"])
    assert any("<seq>" in n for n in out["notes"])


def test_trtexec_and_polygraphy_lines(tmp_path):
    src = tmp_path / "model.onnx"
    onnx.save(op_models.layer_norm(), src)
    lib = tmp_path / "trt_plugin" / "lib" / "tpat_ln_0.so"
    out = C.model_commands(src, tmp_path / "model.tpat.onnx", [lib, lib], BATCH, base=tmp_path)
    assert shlex.split(out["trtexec"]) == [
        "trtexec", "--onnx=model.tpat.onnx", "--dynamicPlugins=trt_plugin/lib/tpat_ln_0.so",
        "--minShapes=x:1x16x64", "--optShapes=x:128x16x64", "--maxShapes=x:256x16x64"]
    ref, trt = out["polygraphy"]
    assert shlex.split(ref) == ["polygraphy", "run", "model.onnx", "--onnxrt", "--input-shapes", "x:[128,16,64]",
                                "--save-inputs", "tpat_inputs.json", "--save-outputs", "tpat_reference.json"]
    assert trt.startswith("TPAT_ONNX=model.tpat.onnx TPAT_PLUGINS=trt_plugin/lib/tpat_ln_0.so polygraphy run "
                          '"$(python3 -m tpat.trt.polygraphy_network)" --model-type=trt-network-script --trt ')
    assert "--trt-min-shapes 'x:[1,16,64]' --trt-opt-shapes 'x:[128,16,64]' --trt-max-shapes 'x:[256,16,64]'" in trt
    assert str(tmp_path) not in repr(out)  # no absolute paths in metadata


def test_static_model_has_no_shape_flags():
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
    model = h.make_model(h.make_graph([], "g", [x], []))
    out = C.commands(model, {}, "m.onnx", ["a.so", "b.so"], "orig.onnx")
    assert shlex.split(out["trtexec"]) == ["trtexec", "--onnx=m.onnx", "--dynamicPlugins=a.so", "--dynamicPlugins=b.so"]
    assert "--input-shapes" not in out["polygraphy"][0]
    assert "TPAT_PLUGINS=a.so:b.so" in out["polygraphy"][1]


def test_network_script_prints_its_path():
    import subprocess
    import sys

    path = subprocess.run([sys.executable, "-m", "tpat.trt.polygraphy_network"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert path.endswith("tpat/trt/polygraphy_network.py")


def test_shared_label_gets_the_intersection():
    dims = [DimSpec("batch", "batch", 1, 128, 256, 0, 0), {"label": "batch", "min": 4, "opt": 64, "max": 200}]
    assert C.dim_ranges(dims) == {"batch": (4, 128, 200)}
