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


def cpu_check(name: str) -> list[tuple[str, float, bool]]:
    """Case `name` as TVM imports it (tpat's converters included), run on the CPU (llvm) against the outputs ONNX
    expects: checks a converter's arithmetic without a GPU. [(output, max abs error, within tolerance)]."""
    import numpy as np
    import onnx
    import tvm
    from onnx import numpy_helper
    from tvm import relax

    from tpat.conformance.gpu_check import compare
    from tpat.conformance.runner import policy_for
    from tpat.graph.model_index import ModelIndex
    from tpat.graph.selection import select_targets
    from tpat.lowering.frontend import import_onnx
    from tpat.stages.extract import extract, prepare_model

    case = suite()[name]
    model = onnx.load(str(case.model_path))
    index = ModelIndex(prepare_model(model, {}))
    (target,) = select_targets(index.model.graph, [case.node_name], [])
    ex = extract(index, target, {}, policy_for(case))
    mod = import_onnx(ex.subgraph, ex.signature, name)  # as the lower stage imports it (no decomposition)
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
    values = case.inputs()
    for init in model.graph.initializer:
        values.setdefault(init.name, numpy_helper.to_array(init))
    args = [tvm.runtime.tensor(np.asarray(values[n]).astype(t.dtype.name)) for n, t in zip(ex.input_names,
                                                                                      ex.signature.inputs)]
    out = vm["main"](*args)
    outs = [out] if hasattr(out, "numpy") else list(out)
    rtol, atol = case.tolerance
    checked = []
    for got, (oname, want), t in zip(outs, case.outputs().items(), ex.signature.outputs):
        err, _, ok = compare(got.numpy(), np.asarray(want), t.dtype.name, rtol, atol)
        # the plugin hands the bytes on as the signature's dtype: values right in another dtype are wrong there
        checked.append((oname, err, ok and str(got.numpy().dtype) == t.dtype.name))
    return checked
