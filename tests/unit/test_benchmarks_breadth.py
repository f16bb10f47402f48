"""CPU checks of the breadth suite (issue 15, benchmarks/cases_breadth.py): its cases cover the op families in
dynamic mode (named dims with ranges, static twins per timed point), their torch references compute what
onnxruntime computes on small shapes, and the report shows the symbolic-vs-static comparison and the targets.

torch is optional: the reference checks skip without it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cases as bc  # noqa: E402
from benchmarks.cases_breadth import BREADTH  # noqa: E402
from tpat.graph.op_inputs import make_inputs  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (pip install torch==2.13.0)")
SMALL = {"batch": 2, "seq": 16, "edges": 300}
FAMILIES = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceLogSumExp", "ScatterElements",
            "ScatterND", "GatherElements", "OneHot", "CumSum", "TopK", "ArgMax", "Where", "Transpose", "Concat",
            "Split", "MaxPool", "AveragePool", "InstanceNormalization", "GroupNormalization", "Gelu", "Erf",
            "LayerNormalization", "Add+Softmax", "Softmax"}


def test_the_suite_covers_issue_15s_families_in_dynamic_mode():
    assert len(BREADTH) >= 40
    assert FAMILIES <= {c.op for c in BREADTH.values()}
    for case in BREADTH.values():
        assert case.dims, case.name
        for name, lo, opt, hi in case.dims:  # a batch range 1..2x opt; sequences up to BERT's 512
            assert (lo, hi) == ((1, 512) if name == "seq" else (1, 2 * opt)), f"{case.name}: {name}"
    seq = {c.name for c in BREADTH.values() if "seq" in c.opt}
    assert {"attn_softmax_fp16", "attn_softmax_fp32", "layernorm_h1024_fp16", "gelu_h4096_fp16"} <= seq
    for name in seq:
        assert [p["seq"] for p in BREADTH[name].run_points()] == [128, 384, 512]
    for op in ("ScatterElements", "LayerNormalization", "ReduceSum", "OneHot", "Add+Softmax"):
        assert {c.dtype for c in BREADTH.values() if c.op == op} == {"fp32", "fp16"}, op
    assert not set(BREADTH) & set(bc.CASES)
    assert bc.select(["attn_softmax"], "all") == [BREADTH["attn_softmax_fp16"], BREADTH["attn_softmax_fp32"]]


@pytest.mark.parametrize("name", list(BREADTH))
def test_models_name_their_dynamic_dims_and_twins_fix_them(name):
    case = BREADTH[name]
    model = case.model()
    onnx.checker.check_model(model, full_check=True, check_custom_domain=False)
    params = {d.dim_param for vi in model.graph.input for d in vi.type.tensor_type.shape.dim if d.dim_param}
    assert params == set(case.opt), "every declared dim appears in the inputs, named"
    assert model.graph.node[-1].name == name, "the plugin is named after the last node"
    for values in case.run_points():
        twin = case.at(values).model()
        onnx.checker.check_model(twin, full_check=True)
        assert all(d.HasField("dim_value") for vi in (*twin.graph.input, *twin.graph.output)
                   for d in vi.type.tensor_type.shape.dim)
        inferred = onnx.shape_inference.infer_shapes(twin, strict_mode=True)
        out = tuple(d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim)
        assert out == case.at(values).outputs[0][1]


def test_prebuild_variants_and_run_jobs():
    from benchmarks import prebuild, run

    case = BREADTH["attn_softmax_fp16"]
    keys = [k for k, _ in prebuild.variants(case)]
    assert keys == ["attn_softmax_fp16", "attn_softmax_fp16__static_batch32_seq128",
                    "attn_softmax_fp16__static_batch32_seq384", "attn_softmax_fp16__static_batch32_seq512"]
    assert [k for k, _ in prebuild.variants(bc.CASES["gelu_b1_fp32"])] == ["gelu_b1_fp32"]
    jobs = list(run._jobs([bc.CASES["gelu_b1_fp32"], case]))
    assert [(c.name, v) for c, v in jobs][:2] == [("gelu_b1_fp32", {}),
                                                  ("attn_softmax_fp16", {"batch": 32, "seq": 128})]


def _ort(model, arrays):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1  # its CPU scatters with a reduction race on duplicate indices when threaded
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def _widened(model):
    """The model with fp16 tensors as fp32 (onnxruntime's CPU ScatterElements has no fp16 reduction)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in (*m.graph.input, *m.graph.output):
        if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16:
            vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    return m


@needs_torch
@pytest.mark.parametrize("name", list(BREADTH))
def test_torch_reference_matches_onnxruntime(name):
    import torch

    case = BREADTH[name].at({k: SMALL[k] for k in BREADTH[name].opt})
    model = case.model()
    arrays = make_inputs(model, [s for _, s, _ in case.inputs], [d for _, _, d in case.inputs], 0)
    if case.op == "ScatterElements" and case.dtype == "fp16":
        refs = [r.astype(np.float16) for r in _ort(_widened(model), [a.astype(np.float32) if a.dtype == np.float16
                                                                     else a for a in arrays])]
    else:
        refs = _ort(model, arrays)
    consts = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    got = case.reference(consts)(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    got = list(got) if isinstance(got, tuple) else [got]
    tol = 1e-4 if case.dtype == "fp32" else 1e-2
    for g, r in zip(got, refs):  # TopK's reference gives the values only (indices may differ on ties)
        g = g.numpy()
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol)


def _rows():
    env = {"device": "NVIDIA H200", "sms": 132, "l2_bytes": 50 * 10**6, "torch": "2.11.0", "cuda": "13.0",
           "driver": "580", "date": "2026-12-01 00:00 UTC", "copy": {"GBps": 4000.0, "bytes": 2 << 30}}
    attn = BREADTH["attn_softmax_fp16"].at({"batch": 32, "seq": 384})
    core = bc.CASES["gelu_b64_fp32"]
    rows = [{"case": "attn_softmax_fp16 [batch=32,seq=384]", "base": "attn_softmax_fp16", "suite": "breadth",
             "op": "Add+Softmax", "shape": attn.shape_str, "dtype": "fp16", "bytes": attn.bytes_moved,
             "status": "ok", "notes": [], "check": {"rel_norm": 1e-4}, "ours": {"us": 60.0},
             "static": {"us": 50.0}, "eager": {"us": 300.0}, "compile": {"us": 180.0}},
            {"case": core.name, "base": core.name, "suite": "core", "op": core.op, "shape": core.shape_str,
             "dtype": "fp32", "bytes": core.bytes_moved, "status": "ok", "notes": [], "check": {"rel_norm": 0.0},
             "ours": {"us": 70.0}, "eager": {"us": 70.0}, "compile": {"us": 50.0}}]
    return rows, env


def test_report_shows_symbolic_vs_static_and_the_targets():
    from benchmarks import run, targets

    rows, env = _rows()
    run.finish_rows(rows, env)
    md = run.markdown(rows, env)
    assert "| 50.0 (1.20×!) |" in md, "static time, symbolic 1.2x slower: past the 10 % target"
    assert "**Targets (issue 15)**" in md and "breadth: 1 rows" in md and "core: 1 rows" in md
    met = {t: m for t, m, _ in targets.check(rows)}
    assert met["symbolic kernels within 10 % of the static build"] is False
    assert met["fused mask+Softmax (dynamic batch, sequence) >= 1.0x torch.compile at 128/384/512"] is True
    assert met[f"no case below {targets.FLOOR_COMPILE}x torch.compile"] is False  # gelu at 0.71x
    assert "not yet explained" in md, "a losing row without a recorded reason says so"
