"""Generate the plugins the GPU tests drive, here on a CPU machine with TVM (the GPU machine has none).

    python tests/gpu/prebuild.py <dir> [--include .trt/v10.16/include] [--arch sm_90]

writes ``<dir>/<Op>/trt_plugin/...`` for every op of tests/op_models.py (CORE_OPS + EXTRA_OPS) with onnx2plugin
(dynamic batch 1..128..256, validate="never") and ``<dir>/prebuilt.json`` naming the TensorRT headers the IPluginV3
libraries were built against. Then on the GPU machine::

    TPAT_PREBUILT_DIR=<dir> PYTHONPATH=. python3 -m pytest -q -m gpu tests/gpu
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: op_models, harness_cases
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/gpu: prebuild_validation
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))  # the repo: tpat

import harness_cases  # noqa: E402
import prebuild_validation  # noqa: E402
import op_models  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to write (e.g. .device/artifacts)")
    ap.add_argument("--include", type=Path, default=None,
                    help="TensorRT include folder to build against (default: TENSORRT_INCLUDE_DIR / kernel-lens)")
    ap.add_argument("--arch", action="append", default=None, help="CUDA arch, repeatable (default sm_90)")
    ap.add_argument("--ops", nargs="*", default=None, help="only these keys of CORE_OPS/EXTRA_OPS")
    ap.add_argument("--whole-only", action="store_true", help="only the whole-model encoder (root/whole/)")
    args = ap.parse_args(argv)
    models = {**op_models.CORE_OPS, **op_models.EXTRA_OPS}
    if args.ops:
        models = {k: models[k] for k in args.ops}
    start = time.perf_counter()
    if args.whole_only:
        print(f"built {prebuild_validation.build_whole(args.out, tuple(args.arch or ('sm_90',)))}")
        return 0
    manifest = harness_cases.prebuild(args.out, models, args.include, tuple(args.arch or ("sm_90",)))
    if not args.ops:  # the fixed-shape variants tests/gpu/test_validate_gpu.py checks
        prebuild_validation.build_fixed(args.out, tuple(args.arch or ("sm_90",)))
        prebuild_validation.build_policy_variants(args.out, tuple(args.arch or ("sm_90",)))
        prebuild_validation.build_tuned_dispatch(args.out, tuple(args.arch or ("sm_90",)))
        prebuild_validation.build_fused(args.out, tuple(args.arch or ("sm_90",)))
        prebuild_validation.build_whole(args.out, tuple(args.arch or ("sm_90",)))
    print(f"{len(manifest['ops'])} plugins in {args.out} against TensorRT {manifest['trt_version']} headers "
          f"({manifest['trt_include']}), {time.perf_counter() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
