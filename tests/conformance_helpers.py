"""Cases of ONNX's node test suite (tpat.conformance) converted one at a time, in the test's own process."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tpat.cache.location import default_cache_dir
from tpat.conformance.cases import Case, load_cases
from tpat.conformance.runner import CaseResult, Job, convert_case


@functools.lru_cache(maxsize=1)
def suite() -> dict[str, Case]:
    return {c.name: c for c in load_cases(default_cache_dir())}


def convert(name: str, bundle: Path, plugin_library: bool = False) -> CaseResult:
    """Case `name` through spec -> plan -> lower -> codegen -> build -> rewrite, as `tpat conformance` runs it."""
    c = suite()[name]
    return convert_case(Job(str(c.folder), c.meta, str(bundle), str(default_cache_dir()), ("sm_90",),
                            plugin_library))


def plugin_meta(bundle: Path, result: CaseResult) -> dict:
    """meta/<plugin>.json of a converted case: signature, launch plan."""
    return json.loads((bundle / result.case / "trt_plugin" / "meta" / f"{result.plugin}.json").read_text())


def built(result: CaseResult) -> bool:
    assert result.status == "built", f"{result.case}: {result.stage}: {result.error}\n{result.traceback or ''}"
    return True
