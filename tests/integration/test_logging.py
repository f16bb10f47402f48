"""-v logs what the stages decide: why each task runs, which schedule rule fired, what was built, cache hits."""

from __future__ import annotations

import pytest
import yaml

from workflow_helpers import erf_model, tpat_cli, write_spec


@pytest.mark.slow
def test_verbose_apply_says_what_and_why(tmp_path):
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, {"op_types": ["Erf"]}, tmp_path / "c")
    first = tpat_cli("-v", "apply", str(spec), "--no-progress")
    assert first.returncode == 0, first.stderr
    for line in ("lower tpat_erf: run (new)", "schedule rule VectorizedElementwise for the kernel writing",
                 "lower tpat_erf: 1 kernel(s) for sm_90", "codegen tpat_erf:", "build tpat_erf: libtpat_erf_kernels.so"):
        assert line in first.stderr, (line, first.stderr)
    second = tpat_cli("-v", "apply", str(spec), "--no-progress")
    assert "lower tpat_erf: cached" in second.stderr and "schedule rule" not in second.stderr, second.stderr
    data = yaml.safe_load(spec.read_text())
    data["defaults"]["dynamic"]["batch"]["max"] = 128
    spec.write_text(yaml.safe_dump(data))
    third = tpat_cli("-v", "apply", str(spec), "--no-progress")
    assert "lower tpat_erf: run (changed: signature)" in third.stderr, third.stderr
