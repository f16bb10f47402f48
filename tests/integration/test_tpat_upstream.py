"""Tencent/TPAT's own tests/test_tpat.py through tpat (issue 18): every onnx2plugin call TPAT's tests make, with
TPAT's arguments, converts here and lands in a bundle that tests/gpu/test_tpat_upstream_gpu.py checks on a GPU.

TPAT's file is fetched, never part of this repository: set TPAT_TESTS_FILE to it (e.g. after
`git clone https://github.com/Tencent/TPAT /tmp/tpat-upstream`: /tmp/tpat-upstream/tests/test_tpat.py); without it
these tests skip. Four of TPAT's tests build their model with TensorFlow 1 + tf2onnx: set TPAT_TESTS_PYTHON to an
interpreter that has TensorFlow 2.x (tf.compat.v1), tf2onnx, onnx and onnxruntime to include them (README,
"Development"); without it they fail in TPAT's code saying TF is missing, and their calls are not made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tpat.conformance.tpat_upstream import collect_calls, convert_calls

FILE_ENV, PYTHON_ENV = "TPAT_TESTS_FILE", "TPAT_TESTS_PYTHON"
# TPAT's own bugs: verify_rnn passes (model_0, inputs_0, model_1, inputs_1, op_name) to verify_with_ort_with_trt,
# whose third parameter is op_name, so the opset assignment fails before any onnx2plugin call
BROKEN_IN_TPAT = {"test_lstm", "test_gru"}
TF_TESTS = {"test_reducesum", "test_forward_one_hot", "test_logical", "test_scatternd"}
# What does not convert yet, by op type, each refused with a message naming node, op and cause (a list that only
# shrinks: a new refusal fails here, and so does a fixed one until it leaves the list)
KNOWN_REFUSED: dict[str, str] = {}


def _test_file() -> Path:
    path = os.environ.get(FILE_ENV)
    if not path or not Path(path).is_file():
        pytest.skip(f"{FILE_ENV} is not set to TPAT's tests/test_tpat.py (fetch github.com/Tencent/TPAT)")
    return Path(path)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("tpat_calls")
    return collect_calls(_test_file(), out, os.environ.get(PYTHON_ENV)), out


def test_tpat_tests_run_with_only_their_tensorrt_step_replaced(collected):
    summary, out = collected
    assert summary["cut"] == ["verify_tf_with_trt_result", "verify_with_ort_with_trt"]
    failed = {t["test"]: t["error"] for t in summary["tests"] if t["status"] != "passed"}
    allowed = BROKEN_IN_TPAT | (set() if summary["tensorflow"] else TF_TESTS)
    assert set(failed) <= allowed, failed
    assert len(summary["calls"]) >= 200
    for name in summary["calls"]:
        call = json.loads((out / "calls" / name / "call.json").read_text())
        assert call["inputs"] >= 1, f"{name}: TPAT's inputs were not recorded"
        assert call["args"]["node_names"], name


@pytest.mark.slow
def test_every_tpat_call_converts_with_tpat_arguments(collected, tmp_path):
    summary, out = collected
    results = convert_calls(out / "calls", tmp_path / "bundle", Path(os.environ["TPAT_CACHE_DIR"]), jobs=2,
                            plugin_library=False)
    assert len(results) == len(summary["calls"])
    refused = {r.case: (r.op_type, (r.error or "").splitlines()[0][:300]) for r in results if r.status != "built"}
    unexpected = {c: why for c, why in refused.items()
                  if why[0] not in KNOWN_REFUSED or KNOWN_REFUSED[why[0]] not in why[1]}
    assert not unexpected, f"{len(refused)} of {len(results)} calls did not convert: {unexpected}"
    assert all(r.clear and not r.internal for r in results if r.status != "built")
    assert {op for op, _ in refused.values()} == set(KNOWN_REFUSED), "a known refusal is fixed: drop it"
    for r in results:
        if r.status != "built":
            continue
        case = tmp_path / "bundle" / r.case
        assert (case / "conformance.json").is_file()
        assert (case / "case" / "case.json").is_file() or (case / "case" / "deferred.json").is_file()
