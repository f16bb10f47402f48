"""Build every benchmark case into a plugin, here on a CPU machine with TVM (the GPU machine has none).

    PYTHONPATH=. python3 benchmarks/prebuild.py OUT_DIR [--cases softmax gelu_b64_fp32 ...] [--arch sm_90]
    PYTHONPATH=. python3 benchmarks/prebuild.py OUT_DIR --records benchmarks/records    # the tuned cases

writes, per case, ``OUT_DIR/<case>/`` with ``model.onnx`` (the single-op model, fixed shapes),
``trt_plugin/lib/lib<plugin>_kernels.so`` (the C ABI the benchmark calls), ``trt_plugin/meta/<plugin>.json|.onnx``
(launch plan, signature) and ``trt_plugin/src/`` (the generated CUDA, for reading), plus ``OUT_DIR/prebuilt.json``
(cases, plugin names, failures). Plugins are built for fixed shapes (``dynamic_bs=False``), untuned (tpat's default
schedules: its own rules, then dlight's) or, with ``--records``, tuned from H100 records, with ``validate="never"``: correctness is checked on the GPU by ``benchmarks/run.py`` against torch.
The IPluginV3 libraries (``trt_plugin/lib/<plugin>.so``) are deleted unless ``--keep-plugin``: the benchmark needs
only the kernels library, and the folder has to travel to the GPU machine (64 MiB limit).
No data is generated here: inputs are drawn on the GPU side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.cases import select  # noqa: E402

MANIFEST = "prebuilt.json"


def build_case(case, out: Path, arch, keep_plugin: bool, trials: int = 0, records: Path | None = None) -> dict:
    import onnx

    import tpat

    work = out / case.name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if records is not None:  # tuned elsewhere: the records beside the outputs, where tpat looks for them
        recorded = json.loads((records / "tune.json").read_text())
        trials = recorded["trials"]
        shutil.copytree(records, work / "trt_plugin" / "tuning" / f"tpat_{case.name}")
    model = case.model()
    onnx.checker.check_model(model)
    onnx.save(model, work / "model.onnx")
    start = time.perf_counter()
    res = tpat.onnx2plugin(work / "model.onnx", work / "model.tpat.onnx", node_names=[case.name],
                           dynamic_bs=False, arch=tuple(arch), validate="never", trials=trials)
    (plugin,) = res.plugins
    plugin_dir = work / "trt_plugin"
    if not keep_plugin:
        (plugin_dir / "lib" / f"{plugin.plugin}.so").unlink(missing_ok=True)
    kernels = plugin_dir / "lib" / f"lib{plugin.plugin}_kernels.so"
    if not kernels.is_file():
        raise FileNotFoundError(f"{kernels} was not built")
    tune = plugin_dir / "tuning" / plugin.plugin / "tune.json"
    tuning = json.loads(tune.read_text()) if tune.is_file() else None
    return {"plugin": plugin.plugin, "seconds": round(time.perf_counter() - start, 1), "tuning": tuning,
            "kernels": str(kernels.relative_to(out))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to write (e.g. .device/bench, git-ignored)")
    ap.add_argument("--cases", nargs="*", default=None, help="case names or prefixes (default: all)")
    ap.add_argument("--arch", action="append", default=None, help="CUDA arch, repeatable (default sm_90)")
    ap.add_argument("--keep-plugin", action="store_true", help="keep the IPluginV3 .so files too")
    ap.add_argument("--trials", type=int, default=0,
                    help="meta_schedule trials per case (needs a GPU and TVM here); 0 = untuned dlight schedules")
    ap.add_argument("--records", type=Path, default=None,
                    help="folder of tuning records per case (e.g. benchmarks/records): build the cases that have "
                    "records, tuned, with no GPU")
    args = ap.parse_args(argv)
    arch = tuple(args.arch or ("sm_90",))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"cases": {}, "failed": {}}
    manifest["arch"] = list(arch)
    cases = select(args.cases)
    if args.records is not None:
        cases = [c for c in cases if (args.records / c.name / "tune.json").is_file()]
    for case in cases:
        try:
            records = args.records / case.name if args.records is not None else None
            info = build_case(case, out, arch, args.keep_plugin, args.trials, records)
            manifest["cases"][case.name] = info
            manifest["failed"].pop(case.name, None)
            print(f"  built {case.name:28s} {info['plugin']}  {info['seconds']:6.1f}s", flush=True)
        except Exception as exc:  # one failing case is reported, the others go on
            manifest["cases"].pop(case.name, None)
            manifest["failed"][case.name] = f"{type(exc).__name__}: {exc}"
            print(f"  FAILED {case.name}: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc(limit=3)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(manifest['cases'])} cases built, {len(manifest['failed'])} failed, {size / 2**20:.1f} MiB in {out}")
    return 1 if manifest["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
