"""Strings from models are hostile: none reaches generated C++ except escaped, through every template.

A dim name with a newline used to start a line of C++ in the kernels source (`// {{ d.label }}`); a trailing
backslash would splice the next line (a range check) into the comment. These tests put such names in a real model,
convert it end to end with nvcc, and render every template with hostile text in every model-derived field.
"""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

import plugin_build as pb
from hostile import HOSTILE, code_lines, symbols
from tpat.render import render
from tpat.trt.headers import find_headers
from workflow_helpers import write_spec


def _hostile_model() -> onnx.ModelProto:
    """Add(x[d0, 1], y[1, d1]) -> z[d0, d1]: two dynamic dims named by hostile text, hostile node/tensor names."""
    d0, d1 = HOSTILE[0], HOSTILE[1] + HOSTILE[2]
    node = h.make_node("Add", ["x\n#error in", "y"], ['z"out'], name="add\n#error node\\")
    graph = h.make_graph([node], "g\n#error graph",
                         [h.make_tensor_value_info("x\n#error in", T.FLOAT, [d0, 1]),
                          h.make_tensor_value_info("y", T.FLOAT, [1, d1])],
                         [h.make_tensor_value_info('z"out', T.FLOAT, [d0, d1])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="hostile\n#error")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def test_hostile_model_converts_and_builds(tmp_path):
    """The whole pipeline with hostile names: the kernels and the plugin compile (a raw `#error` line would
    stop nvcc), no injected declaration becomes a symbol, and no hostile text is a line of code."""
    from tpat.workflow import apply_spec

    dims = {HOSTILE[0]: {"min": 1, "opt": 4, "max": 8}, HOSTILE[1] + HOSTILE[2]: {"min": 2, "opt": 3, "max": 9}}
    spec = write_spec(tmp_path / "w", {"m.onnx": _hostile_model()}, {"op_types": ["Add"]}, tmp_path / "cache",
                      defaults={"arch": ["sm_90"], "dynamic": dims})
    result = apply_spec(spec, progress=False)
    assert not result.failed_models, result.model_status[0].error
    (name,) = result.plan.plugins
    assert name.isidentifier() and "\n" not in name
    out = tmp_path / "w" / "out" / "trt_plugin"
    sources = sorted((out / "src").iterdir())
    assert sources
    for src in sources:
        for line in code_lines(src.read_text()):
            assert not line.startswith("#error") and "int tpat_injected" not in line, (src.name, line)
    libs = sorted((out / "lib").glob("*.so"))
    assert len(libs) == (2 if find_headers() else 1)
    for so in libs:
        assert "tpat_injected" not in symbols(so)
    assert onnx.load(str(tmp_path / "w" / "out" / "m.tpat.onnx")).graph.node[0].domain == "trt.plugins"


def _hostile_context() -> dict:
    """A plugin context as codegen makes it, with hostile text in every field a model can fill."""
    ctx = pb.context("tpat_h", "tpat_h", [pb.tensor(HOSTILE[1], "float32", [{"dim": 0}, 4]),
                                          pb.tensor(HOSTILE[2], "float32", [{"dim": 0}, 4])],
                     [pb.tensor(HOSTILE[3], "float32", [{"dim": 0}, 4])],
                     [{**pb.dim("b0", 1, 2, 8, 0, 0), "label": HOSTILE[0] + HOSTILE[2]}],
                     namespace=HOSTILE[4])
    return ctx


def test_every_template_escapes_hostile_text(tmp_path):
    """plugin.h/.cu, kernels.h and the hand-written fixture kernels compile with hostile labels, names and
    namespace; the dispatcher and the library entry points render hostile descriptions into comments only."""
    ctx = _hostile_context()
    sources = pb.render_sources(ctx, tmp_path / "src")
    for path in (tmp_path / "src").iterdir():
        for line in code_lines(path.read_text()):
            assert not line.startswith("#error") and "int tpat_injected" not in line, (path.name, line)
    kernels = tmp_path / "libk.so"
    pb.nvcc([*pb.PLUGIN_FLAGS, "-arch=sm_90", "-I", sources[0].parent, "-o", kernels, sources[1]], cwd=tmp_path)
    headers = find_headers()
    if headers is not None:
        so = pb.build_plugin(sources, headers.include_dir, tmp_path / "plugin.so")
        assert "tpat_injected" not in symbols(so)
    variants = [{"index": 0, "fn": "tpat_tpat_h__v0_", "file": HOSTILE[0], "bucket": [], "describe": HOSTILE[1]},
                {"index": 1, "fn": "tpat_tpat_h__v1_", "file": "f.cu", "bucket": [4], "describe": HOSTILE[3]}]
    dispatch = render("kernels_dispatch.cu.j2", **ctx, variants=variants)
    (tmp_path / "src" / "dispatch.cu").write_text(dispatch)
    pb.nvcc(["-std=c++17", *pb.WARN, "-I", tmp_path / "src", "-c", "-o", tmp_path / "d.o",
             tmp_path / "src" / "dispatch.cu"], cwd=tmp_path)
    for line in code_lines(dispatch):
        assert not line.startswith("#error") and "int tpat_injected" not in line
    with pytest.raises(ValueError, match="file name"):
        render("plugin_library.cu.j2", tpat_version="t",
               plugins=[{"ident": "tpat_h", "plugin_header": 'x.h"\n#error'}])
