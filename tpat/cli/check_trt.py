"""`tpat check-trt MODEL [PLUGIN_DIR]`: TensorRT's own plugin registry, ONNX parser and builder on the plugins.

Uses TensorRT for RTX, which builds engines without a GPU: every plugin library registers, the parser imports every
plugin node of the rewritten MODEL as that plugin, and an engine builds for the profile in the plugins' metadata.
PLUGIN_DIR defaults to trt_plugin/ beside MODEL. Exit 0 when all of that holds, 3 when it does not.
"""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("check-trt", help="check plugins with TensorRT-RTX's parser and builder (no GPU needed)",
                       description=__doc__)
    p.add_argument("model", type=Path, help="the rewritten model (onnx2plugin's output)")
    p.add_argument("plugin_dir", type=Path, nargs="?", help="the trt_plugin/ folder (default: beside MODEL)")
    p.add_argument("--shape", action="append", default=[], metavar="INPUT=MIN:OPT:MAX",
                   help="profile of a model input, dims joined by 'x' (e.g. x=1x64:128x64:256x64); "
                        "default: from the plugins' metadata")
    p.add_argument("--backend", choices=("auto", "cpp", "python"), default="auto",
                   help="cpp: checker compiled against TensorRT 11.x headers; python: TensorRT-RTX's Python bindings; "
                        "auto: cpp when the headers are there")
    p.add_argument("--run", dest="run_engine", action="store_true",
                   help="also run the engine once (C++ checker, Ampere/Ada/Blackwell GPU; TensorRT-RTX refuses Hopper)")
    p.add_argument("--save-engine", type=Path, metavar="FILE", help="write the serialized engine here")
    p.add_argument("--trt-verbose", action="store_true", help="print TensorRT's verbose log too")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def _shapes(values: list[str]) -> dict:
    from ..errors import TpatError

    shapes = {}
    for v in values:
        name, _, spec = v.rpartition("=")
        parts = spec.split(":")
        try:
            if not name or len(parts) != 3:
                raise ValueError
            shapes[name] = tuple(tuple(int(d) for d in p.split("x")) if p else () for p in parts)
        except ValueError:
            raise TpatError(f"bad --shape {v!r}", hint="use INPUT=MIN:OPT:MAX with dims joined by 'x', "
                                                       "e.g. x=1x64:128x64:256x64") from None
    return shapes


def run(args) -> int:
    from ..trt.rtx import check_trt

    report = check_trt(args.model, args.plugin_dir, shapes=_shapes(args.shape), backend=args.backend,
                       run=args.run_engine, engine_path=args.save_engine,
                       verbose=args.trt_verbose)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print(report.summary())
    return 0 if report.ok else 3
