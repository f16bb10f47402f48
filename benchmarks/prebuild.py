"""Build every benchmark case into a plugin, here on a CPU machine with TVM (the GPU machine has none).

    PYTHONPATH=. python3 benchmarks/prebuild.py OUT_DIR [--cases softmax gelu_b64_fp32 ...] [--arch sm_90]
    PYTHONPATH=. python3 benchmarks/prebuild.py OUT_DIR --records benchmarks/records    # the tuned cases
    PYTHONPATH=. python3 benchmarks/prebuild.py OUT_DIR --suite breadth    # issue 15's cases, dynamic + static twins

writes, per case, ``OUT_DIR/<case>/`` with ``model.onnx`` (the single-op model, fixed shapes),
``trt_plugin/lib/lib<plugin>_kernels.so`` (the C ABI the benchmark calls), ``trt_plugin/meta/<plugin>.json|.onnx``
(launch plan, signature) and ``trt_plugin/src/`` (the generated CUDA, for reading), plus ``OUT_DIR/prebuilt.json``
(cases, plugin names, failures). Plugins are built for fixed shapes (``dynamic_bs=False``), untuned (tpat's default
schedules: its own rules, then dlight's) or, with ``--records``, tuned from H100 records, with ``validate="never"``: correctness is checked on the GPU by ``benchmarks/run.py`` against torch.
The IPluginV3 libraries (``trt_plugin/lib/<plugin>.so``) are deleted unless ``--keep-plugin``: the benchmark needs
only the kernels library, and the folder has to travel to the GPU machine (64 MiB limit).
No data is generated here: inputs are drawn on the GPU side.

The breadth suite (``--suite breadth``, ``benchmarks/cases_breadth.py``) is converted as a user converts a model
with dynamic dims: the spec ``tpat apply`` reads, each named dim declared with its range (fused nodes as one
plugin), so the kernels are the symbolic ones; ``OUT_DIR/<case>/`` holds that build and
``OUT_DIR/<case>__static_<dims>/`` a static twin per timed point (the same nodes with every dim fixed), which
``run.py`` times beside it.
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


def variant_key(case, values: dict[str, int] | None = None) -> str:
    """The prebuilt folder (and manifest key) of a case: its name for the symbolic build (or a core case's fixed
    one), `<name>__static_<dim><value>...` for its static twin at `values`."""
    if values is None:
        return case.name
    return f"{case.name}__static_" + "_".join(f"{k}{v}" for k, v in values.items())


def variants(case, static: bool = True) -> list[tuple[str, object]]:
    """(key, case to build) of a case: a core case's fixed build; a dynamic case's symbolic build (its dims declared
    with their ranges) and, with `static`, its static twin at each timed point (the same nodes, shapes fixed)."""
    out = [(case.name, case)]
    if case.dims and static:
        out += [(variant_key(case, values), case.at(values)) for values in case.run_points()]
    return out


def build_case(case, out: Path, arch, keep_plugin: bool, trials: int = 0, records: Path | None = None,
               folder: str | None = None) -> dict:
    import onnx

    work = out / (folder or case.name)
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
    plugin = _convert(case, work, arch, trials)
    plugin_dir = work / "trt_plugin"
    if not keep_plugin:
        (plugin_dir / "lib" / f"{plugin}.so").unlink(missing_ok=True)
    kernels = plugin_dir / "lib" / f"lib{plugin}_kernels.so"
    if not kernels.is_file():
        raise FileNotFoundError(f"{kernels} was not built")
    tune = plugin_dir / "tuning" / plugin / "tune.json"
    tuning = json.loads(tune.read_text()) if tune.is_file() else None
    info = {"plugin": plugin, "seconds": round(time.perf_counter() - start, 1), "tuning": tuning,
            "kernels": str(kernels.relative_to(out))}
    if case.dims:
        info["dims"] = {n: [lo, opt, hi] for n, lo, opt, hi in case.dims}
    if case.static_of:
        info["static_of"] = case.static_of
    return info


def _convert(case, work: Path, arch, trials: int) -> str:
    """The plugin's name, after converting the case's node(s): a core case as TPAT's `onnx2plugin` call (fixed
    shapes); a breadth case as the spec `tpat apply` reads, with its dims declared dynamic and its nodes fused."""
    import tpat

    if not case.dims and len(case.nodes) == 1 and not case.static_of:
        res = tpat.onnx2plugin(work / "model.onnx", work / "model.tpat.onnx", node_names=[case.name],
                               dynamic_bs=False, arch=tuple(arch), validate="never", trials=trials)
        (plugin,) = res.plugins
        return plugin.plugin
    from tpat.spec import resolve_spec, spec_from_data
    from tpat.workflow import make_plan, run_plan

    names = [n.name for n in case.nodes]
    targets = {"fuse": [names]} if len(names) > 1 else {"nodes": names}
    data = {"version": 1, "output_dir": str(work),
            "defaults": {"arch": list(arch), "validate": False, "tuning": {"trials": trials},
                         "dynamic": {n: {"min": lo, "opt": opt, "max": hi} for n, lo, opt, hi in case.dims}},
            "models": [{"path": str(work / "model.onnx"), "glob": False, "output": str(work / "model.tpat.onnx"),
                        "targets": targets}]}
    plan, headers = make_plan(resolve_spec(spec_from_data(data, f"benchmark case {case.name}")),
                              plugin_dir=work / "trt_plugin", jobs=1)
    result = run_plan(plan, headers, progress=False)
    (plugin,) = plan.plugins
    chain = result.chains[plugin]
    if chain.error:
        chain.raise_error()
    return plugin


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to write (e.g. .device/bench, git-ignored)")
    ap.add_argument("--cases", nargs="*", default=None, help="case names or prefixes (default: all)")
    ap.add_argument("--suite", default="core", choices=("core", "breadth", "all"),
                    help="core: the 20 fixed-shape cases; breadth: benchmarks/cases_breadth.py, each case's "
                    "symbolic build and its static twins; all: both")
    ap.add_argument("--no-static", action="store_true", help="breadth: skip the static twins")
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
    cases = select(args.cases, args.suite)
    if args.records is not None:
        cases = [c for c in cases if (args.records / c.name / "tune.json").is_file()]
    for case in cases:
        for key, variant in variants(case, not args.no_static and args.records is None):
            try:  # records (tuned at the opt bucket) go to the symbolic build, which dispatches to them there
                records = args.records / case.name if args.records is not None and key == case.name else None
                trials = args.trials if key == case.name else 0  # static twins: the untuned reference
                info = build_case(variant, out, arch, args.keep_plugin, trials, records, folder=key)
                manifest["cases"][key] = info
                manifest["failed"].pop(key, None)
                print(f"  built {key:44s} {info['plugin']}  {info['seconds']:6.1f}s", flush=True)
            except Exception as exc:  # one failing build is reported, the others go on
                manifest["cases"].pop(key, None)
                manifest["failed"][key] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}"
                print(f"  FAILED {key}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=3)
            manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(manifest['cases'])} cases built, {len(manifest['failed'])} failed, {size / 2**20:.1f} MiB in {out}")
    return 1 if manifest["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
