"""Measure tpat's default schedules against the H100 tuning records, on a GPU machine with TVM.

    PYTHONPATH=. python3 benchmarks/compare_defaults.py [benchmarks/records] [CASE ...]

For each case folder of records, meta_schedule's own builder and runner time the default schedule of every tuned
function; tune.json then says, per function, the tuned and default times and whether the tuned schedule is kept
(kept only when it runs in at most 98 % of the default's time). Records made before tpat's default schedules
changed are judged against the current ones this way, without tuning again.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def plugin_plan(case, work: Path):
    """The case's planned plugin (subgraph and signature exactly as tpat extracts them)."""
    import onnx

    from tpat.api import _resolved
    from tpat.workflow import make_plan

    onnx.save(case.model(), work / "model.onnx")
    resolved = _resolved((work / "model.onnx").resolve(), (work / "out.onnx").resolve(), [case.name], None, None,
                         {}, ("sm_90",), False, None, "keep", 0)
    plan, _ = make_plan(resolved, plugin_dir=work / "trt_plugin", jobs=1)
    (plugin,) = plan.plugins.values()
    return plugin


def main(argv=None) -> int:
    import onnx

    from benchmarks.cases import select
    from tpat.stages.tune import compare_records

    argv = list(sys.argv[1:] if argv is None else argv)
    records = Path(argv.pop(0)) if argv and Path(argv[0]).is_dir() else ROOT / "benchmarks" / "records"
    names = argv or sorted(p.name for p in records.iterdir() if (p / "tune.json").is_file())
    for name in names:
        (case,) = select([name])
        with tempfile.TemporaryDirectory() as tmp:
            plugin = plugin_plan(case, Path(tmp))
            summary = compare_records(onnx.load_from_string(plugin.subgraph), plugin.signature, records / name,
                                      what=name)
        for func, k in summary["kernels"].items():
            verdict = "tuned kept" if k["kept"] else "default kept"
            print(f"{name:28s} {func:32s} tuned {k['tuned_us']:9.2f} us  default {k['default_us']} us  {verdict}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
