"""`tpat run MODEL.tpat.onnx`: run a rewritten model whole -- plugin nodes through their kernels on the GPU, the rest
in onnxruntime -- and compare it with the original at min / opt / max and an odd value of every dynamic dim.
No TensorRT and no TVM needed."""

from __future__ import annotations

import json
from pathlib import Path


def add_model_arguments(p, required: bool) -> None:
    p.add_argument("--original", type=Path, help="the model before tpat rewrote it (default: from tpat.lock.yaml "
                   "beside the rewritten model)")
    p.add_argument("--plugins", type=Path, help="the trt_plugin/ folder (default: beside the model)")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=MIN:OPT:MAX",
                   help="range of a dynamic dim no plugin reads (repeatable); overrides the plugins' ranges")
    p.add_argument("--backend", choices=("gpu", "reference"), default="gpu",
                   help="gpu: the plugins' kernels; reference: each plugin's node model in onnxruntime (CPU: checks "
                   "the rewrite's wiring, not the kernels)")


def register(sub) -> None:
    p = sub.add_parser("run", help="run a rewritten model whole and compare it with the original",
                       description=__doc__)
    p.add_argument("model", type=Path, help="the rewritten model (<stem>.tpat.onnx)")
    add_model_arguments(p, required=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def parse_dims(items: list[str]) -> dict[str, tuple[int, int, int]]:
    from ..errors import TpatError

    out = {}
    for item in items:
        name, _, values = item.partition("=")
        parts = values.split(":")
        try:
            lo, opt, hi = (int(v) for v in (parts if len(parts) == 3 else parts * 3 if len(parts) == 1 else ()))
        except ValueError:
            lo = opt = hi = 0
        if not name or not 1 <= lo <= opt <= hi:
            raise TpatError(f"--dim {item!r}: expected NAME=MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX")
        out[name] = (lo, opt, hi)
    return out


def check(args, model: Path):
    from ..errors import TpatError
    from ..gpu.cudart import gpu_available
    from ..runtime.whole_model import check_files

    if args.backend == "gpu" and not gpu_available():
        raise TpatError("no NVIDIA GPU found (nvidia-smi -L failed)",
                        hint="run on a GPU machine, or --backend reference to check the rewrite on the CPU")
    return check_files(model, args.original, args.plugins, args.backend, parse_dims(args.dim), args.seed)


def report(result, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.summary())
        for p in result.points:
            errs = ", ".join(f"{o.name} {o.max_abs_err:.3g}" for o in p.outputs)
            print(f"  {p.label:6} {p.dims}: {'ok' if p.passed else 'FAIL'} (max abs err: {errs})")
    return 0 if result.passed else 3


def run(args) -> int:
    return report(check(args, args.model), args.json)
