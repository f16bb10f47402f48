"""Every onnx2plugin call of Tencent/TPAT's tests/test_tpat.py, converted on a CPU machine with TPAT's arguments
(tests/integration/test_tpat_upstream.py, `tpat conformance --tpat-tests`), run on the GPU: each plugin's kernels
on the inputs TPAT's test feeds, against onnxruntime's outputs for the node, within TPAT's tolerance (atol 1e-5).

Needs the bundle built on a machine with TVM (no TVM, TensorRT or TensorFlow here: numpy, onnx, onnxruntime):

    PYTHONPATH=. python3 -m tpat.cli conformance --tpat-tests /tmp/tpat-upstream/tests/test_tpat.py \\
        --tpat-python /tmp/tpat-tfenv/bin/python --kernels-only --bundle .device/tpat-upstream      # CPU machine
    TPAT_UPSTREAM_BUNDLE=.device/tpat-upstream PYTHONPATH=. python3 -m pytest -q -m gpu \\
        tests/gpu/test_tpat_upstream_gpu.py                                                          # GPU machine

A call that did not convert fails here by name (the count is the claim: every call converts and matches).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu
ENV = "TPAT_UPSTREAM_BUNDLE"


def _entries() -> list[dict]:
    bundle = os.environ.get(ENV)
    if not bundle or not (Path(bundle) / "report.json").is_file():
        return []
    return json.loads((Path(bundle) / "report.json").read_text())["cases"]


ENTRIES = _entries()


# Calls whose expected output ONNX leaves undefined: no kernel can be held to onnxruntime's order there.
UNDEFINED = {"249_scatternd": "ScatterND without a reduction and repeated indices: ONNX leaves the order of the "
                              "updates undefined (TPAT's test says so); onnxruntime applies them in order"}


@pytest.mark.skipif(not ENTRIES, reason=f"{ENV} does not name a bundle with report.json (build it with TVM)")
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["case"] for e in ENTRIES])
def test_tpat_call_matches_onnxruntime_on_the_gpu(entry):
    from tpat.conformance.gpu_check import check_case

    assert entry["status"] == "built", f"{entry['case']} did not convert: {entry.get('error')}"
    result = check_case(str(Path(os.environ[ENV]) / entry["case"]))
    if entry["case"] in UNDEFINED and not result.passed:
        pytest.xfail(UNDEFINED[entry["case"]])
    assert result.passed, f"{entry['case']}: {result.detail} (max abs err {result.max_abs_err:.3g})"
