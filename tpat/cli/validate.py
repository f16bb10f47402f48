"""`tpat validate DIR`: run built plugins on the GPU and compare with onnxruntime (no TVM or TensorRT needed)."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("validate", help="check built plugins on a GPU against onnxruntime",
                       description=__doc__)
    p.add_argument("plugin_dir", type=Path, nargs="?", help="a trt_plugin/ folder written by onnx2plugin or apply")
    p.add_argument("--model", type=Path, help="instead: check this rewritten model whole against its original "
                   "(as `tpat run`)")
    p.add_argument("-p", "--plugin", action="append", help="only this plugin (repeatable); default: all")
    p.add_argument("--dims", action="append", help="dim values to check, comma-separated (repeatable); "
                   "default: min, opt, max and an odd value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    from .run import add_model_arguments

    add_model_arguments(p, required=False)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..gpu.cudart import gpu_available
    from ..errors import TpatError
    from ..validate_folder import find_plugins, validate_plugin

    if args.model is not None:
        from .run import check, report

        return report(check(args, args.model), args.json)
    if args.plugin_dir is None:
        raise TpatError("nothing to validate", hint="give a trt_plugin/ folder, or --model MODEL.tpat.onnx")
    if not gpu_available():
        raise TpatError("no NVIDIA GPU found (nvidia-smi -L failed)", hint="run `tpat validate` on a GPU machine")
    points = [[int(v) for v in d.split(",")] for d in args.dims] if args.dims else None
    reports = [validate_plugin(args.plugin_dir, name, points, args.seed)
               for name in (args.plugin or find_plugins(args.plugin_dir))]
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        for r in reports:
            print(r.summary())
            for p in r.points:
                print(f"  {p.label:6} dims={p.dims} max_abs_err={p.max_abs_err:.3g} max_rel_err={p.max_rel_err:.3g}"
                      f" {'ok' if p.passed else 'FAIL ' + p.detail}")
            for c in r.range_checks:
                print(f"  out-of-range dims={c.dims}: {'refused (ok)' if c.refused else f'NOT refused (status {c.status})'}")
    return 0 if all(r.passed for r in reports) else 3
