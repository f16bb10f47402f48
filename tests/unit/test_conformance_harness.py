"""The conformance harness's own parts, without TVM: how a case is written (structure inputs become constants),
which cases a sample takes, how failures are sorted into causes, the GPU comparison rule, the report's markdown,
and the worker pool that survives a dying or hanging case."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from tpat.conformance.cases import Case, select, write_case
from tpat.conformance.gpu_check import compare
from tpat.conformance.operators_doc import render
from tpat.conformance.pool import run_all
from tpat.conformance.report import cause_of, summary, verdict


def _reshape_model() -> onnx.ModelProto:
    node = h.make_node("Reshape", ["data", "shape"], ["reshaped"])
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("data", T.FLOAT, [2, 3]),
                                       h.make_tensor_value_info("shape", T.INT64, [2])],
                         [h.make_tensor_value_info("reshaped", T.FLOAT, [3, 2])])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])


def test_a_structure_input_becomes_an_initializer_and_data_stays_an_input(tmp_path):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_case(tmp_path / "c", "test_reshape", _reshape_model(), [data, np.array([3, 2], np.int64)],
               [data.reshape(3, 2)], 1e-3, 1e-7)
    case = Case(tmp_path / "c", json.loads((tmp_path / "c" / "case.json").read_text()))
    model = onnx.load(str(case.model_path))
    assert [i.name for i in model.graph.input] == ["data"]
    assert [i.name for i in model.graph.initializer] == ["shape"]
    assert model.graph.node[0].name == "test_reshape" == case.node_name
    assert case.meta["constants"] == ["shape"]
    np.testing.assert_array_equal(case.inputs()["data"], data)
    np.testing.assert_array_equal(case.outputs()["reshaped"], data.reshape(3, 2))
    onnx.checker.check_model(model)


def test_a_sequence_case_is_recorded_as_skipped_with_the_reason(tmp_path):
    seq = h.make_tensor_sequence_value_info("s", T.FLOAT, None)
    node = h.make_node("SequenceLength", ["s"], ["n"])
    graph = h.make_graph([node], "g", [seq], [h.make_tensor_value_info("n", T.INT64, [])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)])
    write_case(tmp_path / "c", "test_seq", model, [[np.zeros(2, np.float32)]], [np.array(1)], 1e-3, 1e-7)
    meta = json.loads((tmp_path / "c" / "case.json").read_text())
    assert "sequence" in meta["skip"] and not (tmp_path / "c" / "model.onnx").exists()


@pytest.mark.parametrize("training, ratio, random", [(True, 0.5, True), (True, 0.0, False), (False, 0.5, False)])
def test_a_dropout_in_training_mode_is_skipped_as_a_random_draw(tmp_path, training, ratio, random):
    """Its expected output is one draw of numpy's RandomState(seed), which ONNX does not ask anyone to reproduce;
    with ratio 0 or in inference mode the output is the input, a case like any other."""
    from tpat.conformance.report import OUT_OF_REACH, cause_of

    x = h.make_tensor_value_info("x", T.FLOAT, [3])
    r, t = h.make_tensor_value_info("r", T.FLOAT, []), h.make_tensor_value_info("t", T.BOOL, [])
    node = h.make_node("Dropout", ["x", "r", "t"], ["y"], seed=0)
    graph = h.make_graph([node], "g", [x, r, t], [h.make_tensor_value_info("y", T.FLOAT, [3])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    write_case(tmp_path / "c", "test_d", model, [np.ones(3, np.float32), np.float32(ratio), np.bool_(training)],
               [np.ones(3, np.float32)], 1e-3, 1e-7)
    meta = json.loads((tmp_path / "c" / "case.json").read_text())
    assert ("skip" in meta) == random
    if random:
        entry = {"status": "skipped", "stage": "case", "error": meta["skip"]}
        assert cause_of(entry) == "random output (no implementation reproduces it)" and cause_of(entry) in OUT_OF_REACH


class _C:
    def __init__(self, name, op_type, dtype):
        self.name, self.op_type, self.dtype = name, op_type, dtype


def test_a_sample_takes_every_op_type_in_turn_and_alternates_dtypes():
    cases = [_C(f"{op}_{i}_{d}", op, d) for op in ("A", "B", "C") for i, d in
             enumerate(["float", "float", "int64", "float16"])]
    chosen = select(cases, sample=6)
    assert sorted(c.op_type for c in chosen) == ["A", "A", "B", "B", "C", "C"]
    assert {(c.op_type, c.dtype) for c in chosen} == {(op, d) for op in "ABC" for d in ("float", "int64")}
    assert select(cases, sample=6) == chosen  # fixed: the same cases every time
    assert [c.op_type for c in select(cases, ops=["b"])] == ["B"] * 4


def test_asking_for_an_op_type_the_suite_lacks_is_a_clear_error():
    from tpat.errors import TpatError

    with pytest.raises(TpatError, match="no conformance case of op type"):
        select([_C("x", "Relu", "float")], ops=["Rleu"])


@pytest.mark.parametrize("entry, cause", [
    ({"status": "failed", "stage": "extract", "error": "node 'n' (Add): tensor 'x' has dtype INT16, which a "
      "TensorRT plugin cannot carry"}, "dtype without a TensorRT type"),
    ({"status": "failed", "stage": "lower", "error": "TVM's ONNX frontend cannot import node 'n' (Celu): The "
      "following operators are not supported for frontend ONNX: Celu"}, "no converter in TVM's ONNX frontend"),
    ({"status": "failed", "stage": "lower", "error": "TVM's ONNX frontend cannot import node 'n' (OneHot): Expected "
      "`int` but got `float`"}, "TVM's ONNX frontend fails on this form of the op"),
    ({"status": "failed", "stage": "lower", "internal": True, "error": "internal error: AttributeError: x"},
     "internal error (bug in tpat)"),
    ({"status": "crashed", "stage": "worker", "error": "ran past 600 s while converting"},
     "crashed or hung (worker lost)"),
    ({"status": "failed", "stage": "build", "error": "nvcc failed building"}, "nvcc failed"),
])
def test_failures_are_sorted_into_named_causes(entry, cause):
    assert cause_of(entry) == cause


def test_verdicts_and_the_markdown_table():
    report = {"meta": {"onnx": "1.x", "command": "tpat conformance --gpu"}, "cases": [
        {"case": "test_relu", "op_type": "Relu", "dtype": "float", "status": "built",
         "gpu": {"passed": True, "max_abs_err": 0.0}},
        {"case": "test_relu_f16", "op_type": "Relu", "dtype": "float16", "status": "built",
         "gpu": {"passed": False, "max_abs_err": 1.0, "detail": "output 'y' differs"}},
        {"case": "test_celu", "op_type": "Celu", "dtype": "float", "status": "failed", "stage": "lower",
         "clear": True, "error": "TVM's ONNX frontend cannot import node 'test_celu' (Celu): not supported for "
         "frontend ONNX"},
        {"case": "test_shape", "op_type": "Shape", "dtype": "float", "status": "failed", "stage": "lower",
         "internal": True, "clear": False, "error": "internal error: AttributeError"},
    ]}
    assert [verdict(e) for e in report["cases"]] == ["passed", "failed", "refused", "broken"]
    report["cases"].append({"case": "test_add_int16", "op_type": "Add", "dtype": "int16", "status": "failed",
                            "stage": "extract", "clear": True, "error": "node 'test_add_int16' (Add): tensor 'x' has "
                            "dtype INT16, which a TensorRT plugin cannot carry"})
    s = summary(report)
    assert s["op_types_all_passed"] == 0 and s["unclear"] == ["test_shape"]
    # Add's only case has no TensorRT type: it does not count among the op types a plugin could take
    assert (s["op_types_trt_cases"], s["op_types_trt_all_converted"], s["op_types_trt_all_passed"]) == (3, 1, 0)
    text = render(report)
    assert "| Relu | ✓ 1/1 | ✗ 0/1 |" in text
    assert "| test_celu | fp32 | no converter in TVM's ONNX frontend |" in text
    assert "wrong result on the GPU" in text and "internal error (bug in tpat)" in text


def test_gpu_comparison_rule():
    want = np.array([1.0, np.nan, np.inf, 0.0], np.float32)
    assert compare(want.copy(), want, "float32", 1e-3, 1e-7)[2]
    assert not compare(want + np.float32(0.01), want, "float32", 1e-3, 1e-7)[2]
    assert not compare(np.array([1, 2]), np.array([1, 3]), "int64", 0, 0)[2]
    assert not compare(np.zeros(3), np.zeros(4), "float32", 1e-3, 1e-7)[2]


def _work(x):
    if x == 3:
        os._exit(9)
    if x == 5:
        time.sleep(60)
    return x * 2


def test_the_pool_survives_a_dying_and_a_hanging_case():
    results = dict(run_all(_work, [(str(i), i) for i in range(8)], 2, 2.0, lambda key, why: why))
    assert results["3"] == "the process died (exit 9)"
    assert results["5"] == "ran past 2 s"
    assert {k: v for k, v in results.items() if k not in "35"} == {str(i): 2 * i for i in range(8) if i not in (3, 5)}


def test_gpu_mode_needs_neither_tvm_nor_pydantic():
    """The GPU machine has neither: the CLI, the GPU check and the report must load without them."""
    import subprocess
    import sys

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('tvm', 'pydantic'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import tpat.cli.main, tpat.conformance.gpu_check, tpat.conformance.operators_doc\n"
            "import tpat.cli.conformance as c\n"
            "tpat.cli.main.build_parser()\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("message, clear", [
    ("node 'test_x' (Add): tensor 'x' has dtype INT16, which a TensorRT plugin cannot carry", True),
    ("TVM could not lower node 'test_x' (Add): AssertionError", False),
    ("TVM could not lower node 'test_x' (Add): (... 38 lines skipped ...)", False),
    ("TVM could not lower node 'test_x' (Add): Index out of range. size: 0, got index 0", False),
    ("TVM's ONNX frontend cannot import node 'test_x' (Add): 'num_heads'", False),
    ("something failed in Add", False),
])
def test_a_clear_refusal_names_node_op_and_a_cause(message, clear):
    from tpat.conformance.runner import is_clear

    case = Case(Path("."), {"name": "test_x", "node": "test_x", "op_type": "Add", "outputs": []})
    assert is_clear(message, case) is clear


def test_workers_die_with_a_killed_parent(tmp_path):
    """A census killed with SIGKILL must not leave its workers behind (they would wait forever on pipes)."""
    import signal
    import subprocess
    import sys

    pids = tmp_path / "pids"
    script = ("import os, sys, time\n"
              "from tpat.conformance.pool import run_all\n"
              "def work(path):\n"
              "    open(path, 'a').write(f'{os.getpid()}\\n')\n"
              "    time.sleep(120)\n"
              f"list(run_all(work, [('a', {str(pids)!r}), ('b', {str(pids)!r})], 2, 300, lambda k, w: w))\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(pids.read_text().split() if pids.exists() else []) < 2:
        time.sleep(0.1)
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")  # a zombie has exited
