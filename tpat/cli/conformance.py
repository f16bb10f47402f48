"""`tpat conformance`: ONNX's node test suite through tpat, counted per op type (see tpat/conformance).

CPU mode (default; needs TVM and nvcc): every selected case through extract -> lower -> codegen -> build, with the
stage and cause of each failure; what converted goes into the bundle folder, with the report (bundle/report.json).
GPU mode (--gpu; needs a GPU, not TVM): the bundle's kernels libraries run on the cases' inputs, compared with the
outputs ONNX expects. Build the bundle here, carry the folder to the GPU machine, run `tpat conformance --gpu` there.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DEFAULT_BUNDLE = Path("tpat_conformance")


def register(sub) -> None:
    p = sub.add_parser("conformance", help="run ONNX's node test cases through tpat (CPU: convert; --gpu: check)",
                       description=__doc__)
    p.add_argument("--ops", nargs="+", default=None, metavar="OP", help="only these op types (default: all)")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="a fixed spread of N cases: every op type in turn, alternating dtypes")
    p.add_argument("--gpu", action="store_true", help="run the bundle's kernels on this machine's GPU")
    p.add_argument("--report", type=Path, default=None, help="write the report (JSON) here too")
    p.add_argument("--markdown", type=Path, default=None, help="render the report as markdown (docs/operators.md)")
    p.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE,
                   help=f"folder of the built cases and bundle/report.json (default: {DEFAULT_BUNDLE}/)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--arch", nargs="+", default=["sm_90"], help="CUDA archs (default sm_90)")
    p.add_argument("--kernels-only", action="store_true",
                   help="build only the kernels libraries, not the IPluginV3 ones (faster; the GPU check needs "
                   "only the kernels)")
    p.add_argument("--timeout", type=float, default=600, help="seconds one case may take (default 600)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="task cache and generated cases (default: $TPAT_CACHE_DIR or ~/.cache/tpat)")
    p.add_argument("--tpat-tests", type=Path, default=None, metavar="TEST_TPAT_PY",
                   help="instead of ONNX's suite: every onnx2plugin call of Tencent/TPAT's tests/test_tpat.py "
                   "(fetched; its TensorRT step replaced by this check)")
    p.add_argument("--tpat-python", default=None, metavar="PYTHON",
                   help="run TPAT's tests in this interpreter (one with TensorFlow 2 and tf2onnx, for its TF-built "
                   "models; default: this one)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import TpatError

    if args.jobs < 1:
        raise TpatError(f"-j must be at least 1, got {args.jobs}")
    if args.sample is not None and args.sample < 1:
        raise TpatError(f"--sample must be at least 1, got {args.sample}")
    report = _gpu(args) if args.gpu else _cpu(args)
    text = json.dumps(report, indent=1, sort_keys=True) + "\n"
    if args.report:
        _write(args.report, text)
    if args.markdown:
        from ..conformance.operators_doc import render

        _write(args.markdown, render(report))
    from ..conformance.report import text_summary

    print(text_summary(report))
    return 0


def _cpu(args) -> dict:
    if args.tpat_tests is not None:
        return _tpat_tests(args)
    from ..cache.location import default_cache_dir
    from ..conformance.cases import load_cases, select
    from ..conformance.runner import run_cases

    cache = (args.cache_dir or default_cache_dir()).resolve()
    cases = select(load_cases(cache), args.ops, args.sample)
    start, done = time.perf_counter(), [0]

    def progress(r):
        done[0] += 1
        note = "" if r.status in ("built", "skipped") else f" {r.stage}: {(r.error or '').splitlines()[0][:140]}"
        print(f"[{done[0]}/{len(cases)}] {r.status:7} {r.case}{note}", flush=True)

    results = run_cases(cases, args.bundle, cache, jobs=args.jobs, arch=tuple(args.arch),
                        plugin_library=not args.kernels_only, timeout_s=args.timeout, progress=progress)
    report = {"meta": {**_versions(), "mode": "cpu", "arch": list(args.arch), "command": _command(),
                       "seconds": round(time.perf_counter() - start, 1), "kernels_only": args.kernels_only},
              "cases": [r.to_json() for r in results]}
    _write(args.bundle / "report.json", json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def _tpat_tests(args) -> dict:
    """TPAT's own tests: their calls recorded (bundle/_calls), converted with TPAT's arguments, bundled."""
    from ..cache.location import default_cache_dir
    from ..conformance.tpat_upstream import collect_calls, convert_calls, write_report
    from ..errors import TpatError

    if not args.tpat_tests.is_file():
        raise TpatError(f"no TPAT test file at {str(args.tpat_tests)!r}",
                        hint="fetch github.com/Tencent/TPAT and give its tests/test_tpat.py")
    cache = (args.cache_dir or default_cache_dir()).resolve()
    start = time.perf_counter()
    collected = collect_calls(args.tpat_tests, args.bundle / "_calls", args.tpat_python)
    failed = [t for t in collected["tests"] if t["status"] != "passed"]
    print(f"{len(collected['calls'])} onnx2plugin calls recorded from {len(collected['tests'])} TPAT tests"
          f"{'; failed in TPAT code: ' + ', '.join(t['test'] for t in failed) if failed else ''}", flush=True)
    done = [0]

    def progress(r):
        done[0] += 1
        note = "" if r.status == "built" else f" {r.stage}: {(r.error or '').splitlines()[0][:140]}"
        print(f"[{done[0]}/{len(collected['calls'])}] {r.status:7} {r.case}{note}", flush=True)

    results = convert_calls(args.bundle / "_calls" / "calls", args.bundle, cache, jobs=args.jobs,
                            arch=tuple(args.arch), plugin_library=not args.kernels_only, timeout_s=args.timeout,
                            progress=progress)
    import shutil

    shutil.rmtree(args.bundle / "_calls", ignore_errors=True)  # each case carries what it needs; the report, the rest
    shutil.rmtree(args.bundle / "_work", ignore_errors=True)
    meta = {**_versions(), "mode": "cpu", "arch": list(args.arch), "command": _command(),
            "seconds": round(time.perf_counter() - start, 1), "kernels_only": args.kernels_only}
    return write_report(args.bundle, results, collected, meta)


def _gpu(args) -> dict:
    from ..conformance.cases import select
    from ..conformance.gpu_check import check_bundle
    from ..errors import TpatError
    from ..gpu.cudart import device_fingerprint, gpu_available

    path = args.bundle / "report.json"
    if not path.is_file():
        raise TpatError(f"no conformance bundle in {str(args.bundle)!r} (no report.json)",
                        hint="build it on a machine with TVM: `tpat conformance --bundle DIR`, then carry DIR here")
    if not gpu_available():
        raise TpatError("no NVIDIA GPU found (nvidia-smi -L failed)", hint="run `tpat conformance --gpu` on a GPU")
    built = json.loads(path.read_text())
    entries = {e["case"]: e for e in built["cases"]}
    chosen = {c.name for c in select([_Entry(e) for e in entries.values()], args.ops, args.sample)}
    entries = {n: e for n, e in entries.items() if n in chosen}
    names = [n for n, e in entries.items() if e["status"] == "built"]
    start, done = time.perf_counter(), [0]

    def progress(r):
        done[0] += 1
        extra = "" if r.passed else f" {r.detail[:140]}"
        print(f"[{done[0]}/{len(names)}] {'passed' if r.passed else 'FAILED'} {r.case} "
              f"max_abs_err={r.max_abs_err:.3g}{extra}", flush=True)

    results = check_bundle(args.bundle, names, jobs=args.jobs, progress=progress)
    for name, r in results.items():
        entries[name]["gpu"] = r.to_json()
    meta = {**built.get("meta", {}), "mode": "gpu", "gpu": device_fingerprint(), "gpu_command": _command(),
            "gpu_seconds": round(time.perf_counter() - start, 1)}
    return {"meta": meta, "cases": sorted(entries.values(), key=lambda e: e["case"])}


class _Entry:
    """A report entry as `select` sees a case."""

    def __init__(self, e: dict):
        self.name, self.op_type, self.dtype = e["case"], e["op_type"], e["dtype"]


def _versions() -> dict:
    import onnx

    from .._version import __version__
    from ..cache.keys import tvm_version
    from ..stages.build import nvcc_version

    return {"tpat": __version__, "onnx": onnx.__version__, "tvm": tvm_version(), "nvcc": nvcc_version()}


def _command() -> str:
    return "tpat " + " ".join(sys.argv[1:])


def _write(path: Path, text: str) -> None:
    from ..fsutil import atomic_write_text

    atomic_write_text(Path(path), text)
