"""End to end on the CPU for the core-engine op list: sources, nvcc builds, rewritten model."""

import hashlib
import subprocess
import time

import onnx
import pytest

import op_models
import tpat
from tpat.stages.rewrite import PLUGIN_DOMAIN
from tpat.trt.headers import find_headers

ABI = ("num_dims", "check_dims", "workspace", "init", "launch", "destroy")


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _exports(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("op", sorted(op_models.CORE_OPS))
def test_core_op_end_to_end_on_cpu(op, tmp_path):
    model = op_models.CORE_OPS[op]()
    src = tmp_path / "model.onnx"
    onnx.save(model, src)
    before = _sha(src)
    start = time.perf_counter()
    result = tpat.onnx2plugin(src, tmp_path / "out.onnx", node_types=[op], dynamic_bs=True, validate="never")
    seconds = time.perf_counter() - start
    print(f"{op}: cold end to end {seconds:.1f}s")
    assert _sha(src) == before, "the input model must never be modified"
    (plugin,) = result.plugins
    name = plugin.plugin
    files = plugin.files
    for key in ("kernels_source", "kernels_header", "kernels_library", "meta", "subgraph"):
        assert files[key].is_file(), key
    assert files["kernels_source"].parent == tmp_path / "trt_plugin" / "src"
    assert {f"tpat_{name}_{fn}" for fn in ABI} <= _exports(files["kernels_library"])
    if find_headers() is not None:  # IPluginV3 plugin: seed layout trt_plugin/src/<p>.cu|.h, lib/<p>.so
        assert (tmp_path / "trt_plugin" / "src" / f"{name}.cu").is_file()
        assert (tmp_path / "trt_plugin" / "src" / f"{name}.h").is_file()
        lib = tmp_path / "trt_plugin" / "lib" / f"{name}.so"
        assert "getCreators" in _exports(lib)
    out = onnx.load(tmp_path / "out.onnx")
    onnx.checker.check_model(out)
    (node,) = [n for n in out.graph.node if n.domain == PLUGIN_DOMAIN]
    assert node.op_type == name
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"plugin_version": b"1", "plugin_namespace": b""}
    assert list(node.output) == list(model.graph.node[0].output)


def test_fixed_shape_mode_and_default_plugin_dir(tmp_path):
    model = op_models.erf()
    for d in model.graph.input[0].type.tensor_type.shape.dim[:1]:
        d.Clear()
        d.dim_value = 4
    for d in model.graph.output[0].type.tensor_type.shape.dim[:1]:
        d.Clear()
        d.dim_value = 4
    onnx.save(model, tmp_path / "m.onnx")
    result = tpat.onnx2plugin(tmp_path / "m.onnx", tmp_path / "o" / "m.onnx", node_names=["erf"], validate="never")
    (p,) = result.plugins
    assert p.signature.dims == () and p.plugin == "tpat_erf"
    assert (tmp_path / "o" / "trt_plugin" / "lib" / "libtpat_erf_kernels.so").is_file()
