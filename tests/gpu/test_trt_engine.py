"""Engines built by real TensorRT from the converted models, where the `tensorrt` Python package is importable.

For each op: load the plugin library into the plugin registry (`load_library`, i.e. getCreators), parse the converted
model (`model.tpat.onnx`) with `trt.OnnxParser`, set one optimisation profile from the plugin's dims (the same ranges
the trtexec/Polygraphy commands of tpat.trt.commands use), build, run at batch 1, 7, 128 and 256 with torch buffers,
and compare with onnxruntime on the ORIGINAL model. TensorRT's libraries cannot be installed on our machines, so this
module skips there; it is written to run as-is on any machine with TensorRT 10+, a GPU and torch.

Plugins come from TPAT_PREBUILT_DIR (tests/gpu/prebuild.py) or are generated here when TVM is importable; the plugin
must have been built against headers of the same TensorRT major as the installed TensorRT (ILogger changed in 11).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

trt = pytest.importorskip("tensorrt", reason="the tensorrt Python package is not importable here "
                                             "(TensorRT's libraries cannot be installed on our machines)")
torch = pytest.importorskip("torch", reason="torch is needed for the device buffers")

import harness_cases as hc  # noqa: E402
import op_models  # noqa: E402
from tpat.graph.op_inputs import make_inputs  # noqa: E402
from tpat.stages.validate import compare, reference  # noqa: E402
from tpat.trt.commands import dim_ranges, input_profiles  # noqa: E402

pytestmark = pytest.mark.gpu
OPS = [*op_models.CORE_OPS, *op_models.EXTRA_OPS]
TRT_MAJOR = int(trt.__version__.split(".")[0])


@pytest.fixture(scope="module")
def prebuilt_root(tmp_path_factory) -> Path:
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    env = os.environ.get(hc.PREBUILT_ENV)
    if env:
        root = Path(env)
    elif importlib.util.find_spec("tvm") is not None:
        include = next((inc for inc in reversed(list(hc.header_sets().values()))
                        if _major(inc) == TRT_MAJOR), None)
        root = tmp_path_factory.mktemp("prebuilt")
        hc.prebuild(root, {**op_models.CORE_OPS, **op_models.EXTRA_OPS}, include)
    else:
        pytest.skip(f"no TVM here and {hc.PREBUILT_ENV} unset: run tests/gpu/prebuild.py on a machine with TVM")
    built = hc.read_manifest(root).get("trt_version")
    if built and int(built.split(".")[0]) != TRT_MAJOR:
        pytest.skip(f"plugins were built against TensorRT {built} headers, TensorRT {trt.__version__} is installed: "
                    "IPluginV3/ILogger are ABI-stable within a major only; rebuild with matching headers")
    return root


def _major(include: Path) -> int:
    from tpat.trt.headers import read_version

    return read_version(include)[0]


def _build_engine(p: hc.PrebuiltPlugin, converted: Path, profiles, logger):
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10+
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(converted)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        pytest.fail(f"OnnxParser failed on {converted}: {errors}")
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    assert any(layer.type == trt.LayerType.PLUGIN_V3 for layer in layers), \
        f"no IPluginV3 layer: {[layer.type for layer in layers]}"
    config = builder.create_builder_config()
    if any(pr.dynamic for pr in profiles):
        profile = builder.create_optimization_profile()
        for pr in profiles:
            profile.set_shape(pr.name, pr.min, pr.opt, pr.max)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    assert serialized is not None, "build_serialized_network failed (see the TensorRT log above)"
    engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
    assert engine is not None
    return engine


def _run(engine, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ctx = engine.create_execution_context()
    keep = []
    for name, arr in feeds.items():
        t = torch.from_numpy(np.ascontiguousarray(arr)).cuda()
        keep.append(t)
        assert ctx.set_input_shape(name, tuple(arr.shape))
        ctx.set_tensor_address(name, t.data_ptr())
    outs = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) != trt.TensorIOMode.OUTPUT:
            continue
        shape = tuple(ctx.get_tensor_shape(name))
        np_dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        t = torch.empty(shape, dtype=torch.from_numpy(np.empty(0, np_dtype)).dtype, device="cuda")
        outs[name] = t
        ctx.set_tensor_address(name, t.data_ptr())
    stream = torch.cuda.Stream()
    assert ctx.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    return {name: t.cpu().numpy() for name, t in outs.items()}


@pytest.mark.parametrize("op", OPS)
def test_engine_from_converted_model(op, prebuilt_root):
    op_dir = prebuilt_root / op
    p = hc.load_plugin(op_dir)
    original = onnx.load(str(op_dir / "model.onnx"))
    profiles = input_profiles(original, dim_ranges(p.signature.dims))
    logger = trt.Logger(trt.Logger.WARNING)
    registry = trt.get_plugin_registry()
    handle = registry.load_library(str(p.library))
    assert handle is not None, f"load_library({p.library}) failed"
    try:
        engine = _build_engine(p, op_dir / "model.tpat.onnx", profiles, logger)
        graph_inputs = [i for i in original.graph.input if i.name not in {t.name for t in original.graph.initializer}]
        for n, batch in enumerate(hc.BATCHES):
            shapes = [tuple(lo if lo == hi else batch for lo, hi in zip(pr.min, pr.max)) for pr in profiles]
            dtypes = [np.dtype(onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)).name
                      for i in graph_inputs]
            arrays = make_inputs(original, shapes, dtypes, seed=n)
            feeds = {pr.name: a for pr, a in zip(profiles, arrays)}
            got = _run(engine, feeds)
            refs = reference(original, arrays)
            for out, ref in zip(original.graph.output, refs):
                ref = np.asarray(ref)
                abs_err, _, ok = compare(got[out.name], ref, ref.dtype.name)
                assert ok, f"{op} batch {batch}: output {out.name} differs from onnxruntime (max abs err {abs_err})"
    finally:
        registry.deregister_library(handle)
