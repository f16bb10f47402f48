"""`tpat onnx2plugin`: TPAT's command line, kept flag for flag (-i -o -n -t -p -dynamic -min -max -opt).

TPAT wrote `-dynamic=true`; argparse sees that as `-dynamic` with value `=true`, so booleans accept `true`,
`=true`, `1`, `yes` and the bare flag. The plugin map `-p` takes JSON or `node:plugin,node2:plugin2`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _bool(text: str) -> bool:
    value = text.lstrip("=").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _plugin_map(text: str) -> dict[str, str]:
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"-p is not valid JSON: {exc}") from None
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise argparse.ArgumentTypeError("-p must map strings to strings")
        return value
    pairs = [p for p in text.split(",") if p]
    if not pairs or any(p.count(":") < 1 for p in pairs):
        raise argparse.ArgumentTypeError("-p takes JSON or node:plugin pairs separated by commas")
    return dict(p.rsplit(":", 1) for p in pairs)


def register(sub) -> None:
    p = sub.add_parser("onnx2plugin", help="TPAT-compatible: turn nodes of one model into plugins",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--input", required=True, type=Path, help="input ONNX model (never modified)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output ONNX model using the plugins")
    p.add_argument("-n", "--node-names", nargs="+", default=None, metavar="NAME", help="nodes to convert, by name")
    p.add_argument("-t", "--node-types", nargs="+", default=None, metavar="OP", help="convert every node of these op types")
    p.add_argument("-p", "--plugin-name-dict", type=_plugin_map, default=None,
                   help='plugin names: JSON {"node": "plugin"} (either way round) or node:plugin,...')
    p.add_argument("-dynamic", "--dynamic", nargs="?", const=True, default=False, type=_bool, dest="dynamic",
                   help="dynamic batch on axis 0 (one kernel for the whole range)")
    p.add_argument("-min", "--min-bs", type=int, default=1, dest="min_bs")
    p.add_argument("-max", "--max-bs", type=int, default=256, dest="max_bs")
    p.add_argument("-opt", "--opt-bs", type=int, default=128, dest="opt_bs")
    p.add_argument("--arch", nargs="+", default=["sm_90"], help="CUDA archs, e.g. sm_80 sm_90 (default sm_90)")
    p.add_argument("--dtype", choices=["keep", "fp32", "fp16", "bf16"], default="keep",
                   help="precision the plugins compute in (Casts are added around them); default: the model's")
    p.add_argument("--plugin-dir", type=Path, default=None, help="default: trt_plugin/ beside the output model")
    p.add_argument("--validate", choices=["auto", "always", "never"], default="auto",
                   help="check on the GPU against onnxruntime (auto: when a GPU is present)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..api import onnx2plugin

    result = onnx2plugin(args.input, args.output, args.node_names, args.node_types, args.plugin_name_dict,
                         args.dynamic, args.min_bs, args.max_bs, args.opt_bs, arch=args.arch,
                         plugin_dir=args.plugin_dir, validate=args.validate, dtype=args.dtype)
    failed = 0
    for p in result.plugins:
        lib = p.files.get("plugin_library") or p.files.get("kernels_library")
        if p.validation is None:
            verdict = "not validated (no GPU)"
        else:
            verdict = "valid" if p.validation["passed"] else "INVALID"
            failed += not p.validation["passed"]
        print(f"plugin {p.plugin} node={p.node_name!r} op={p.op_type} lib={lib} {verdict}")
    print(f"model {result.output_model} ({len(result.plugins)} plugins, {result.seconds:.1f}s)")
    return 3 if failed else 0
