"""CUDA archs are ordered by compute capability, never as strings: a list with Blackwell lowers for the oldest."""

from __future__ import annotations

import pytest

from tpat.arch import oldest, sort_archs
from tpat.stages.build import gencode_flags
from workflow_helpers import erf_model, write_spec


def test_order_is_numeric():
    assert min(("sm_90", "sm_100")) == "sm_100"  # why a helper exists at all
    assert sort_archs(["sm_100", "sm_90a", "sm_80", "sm_90"]) == ("sm_80", "sm_90", "sm_90a", "sm_100")
    assert oldest(["sm_100", "sm_120", "sm_90"]) == "sm_90"
    with pytest.raises(ValueError, match="sm_8x"):
        sort_archs(["sm_8x"])


def test_gencode_sass_for_each_ptx_for_the_newest():
    flags = gencode_flags(["sm_100", "sm_90"])
    assert flags == ["-gencode", "arch=compute_90,code=sm_90", "-gencode", "arch=compute_100,code=sm_100",
                     "-gencode", "arch=compute_100,code=compute_100"]


def test_plan_lowers_for_the_oldest_arch(tmp_path):
    from tpat.spec import load_spec, resolve_spec
    from tpat.workflow import make_plan

    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(32)}, {"op_types": ["Erf"]}, tmp_path / "cache",
                      defaults={"arch": ["sm_100", "sm_90"]})
    plan, _ = make_plan(resolve_spec(load_spec(spec)))
    (p,) = plan.plugins.values()
    assert p.arch == ("sm_90", "sm_100")  # SASS for both, PTX for sm_100
    assert p.lowering_arch == "sm_90"  # min() over the strings gave sm_100
