"""`tpat inspect MODEL`: op counts, TensorRT support per op, graph I/O, and a config.yaml to start from.

Output is one fact per line so it greps well (`tpat inspect m.onnx | grep trt=unsupported`); the config
snippet follows a `# ---- config.yaml` line. `--json` prints the same data as one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("inspect", help="list a model's ops, what TensorRT lacks, and a config to convert it",
                       description=__doc__)
    p.add_argument("model", type=Path, help="an ONNX model")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-config", action="store_true", help="leave out the config.yaml snippet")
    p.set_defaults(run=run, timing=False)


def run(args) -> int:
    from ..inspect import inspect_model

    report = inspect_model(args.model)
    if args.json:
        data = report.to_json()
        if args.no_config:
            data.pop("config")
        print(json.dumps(data, indent=2))
        return 0
    print("\n".join(format_lines(report)))
    if not args.no_config:
        print("# ---- config.yaml")
        print(report.config, end="")
    return 0


def format_lines(report) -> list[str]:
    """The text report, one fact per line: `model`, `opset`, `input`, `output`, `op`, `node`, `dim`, `summary`."""
    from .. import trt_support

    lines = [f"model {report.path}"]
    lines += [f"opset {domain}={version}" for domain, version in report.opsets.items()]
    lines += [f"input {t.name} dtype={t.dtype} shape={t.shape_text()}" for t in report.inputs]
    lines += [f"output {t.name} dtype={t.dtype} shape={t.shape_text()}" for t in report.outputs]
    for d in report.dynamic:
        lines.append(f"dim {d.name} {'batch' if d.batch else 'symbolic'} inputs={','.join(d.inputs)}")
    for o in report.ops:
        note = f" note={json.dumps(o.note)}" if o.note else ""
        lines.append(f"op {o.op_type} count={o.count} domain={o.domain} trt={o.trt}{note}")
    for o in report.ops:
        for node, reason in zip(o.plugin_nodes, o.reasons):
            lines.append(f"node {node} op={o.op_type} trt=unsupported reason={json.dumps(reason)}")
    unsupported = [o.op_type for o in report.unsupported]
    lines.append(f"summary nodes={report.nodes} op_types={len(report.ops)} needs_plugin={len(unsupported)}"
                 f"{' (' + ','.join(unsupported) + ')' if unsupported else ''}"
                 f"{f' subgraph_nodes={report.subgraph_nodes} (not inspected)' if report.subgraph_nodes else ''}")
    lines.append(f"source tensorrt={trt_support.TRT_VERSION} table={trt_support.SOURCE[0]}:{trt_support.SOURCE[1]}"
                 f"@{trt_support.SOURCE[2][:8]}")
    return lines
