"""A rewritten model and its plugin folder from the planner alone (no TVM): what `tpat apply` writes, minus the
kernels. Each plugin's meta holds its extracted signature and `meta/<p>.onnx` its node model, which is all the
reference backend of `tpat.runtime` reads; the rewrite is tpat's own."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from tpat.layout import PluginLayout
from tpat.planner import build_task_graph
from tpat.stages.rewrite import Replacement, rewrite
from tpat.workflow import load_resolved
from workflow_helpers import write_spec


def planned_rewrite(folder: Path, model: onnx.ModelProto, targets: dict, dynamic: dict):
    """(rewritten model path, original path, trt_plugin dir, plan) for `model` with `targets` and `dynamic`."""
    spec = write_spec(folder, {"m.onnx": model}, targets, folder / "cache", defaults={"dynamic": dynamic})
    out = folder / "out"
    plan = build_task_graph(load_resolved(spec), out / "trt_plugin", "10.14")
    (mp,) = plan.models
    assert mp.error is None, mp.error
    layout = PluginLayout(out / "trt_plugin")
    layout.meta.mkdir(parents=True)
    for p in plan.plugins.values():
        layout.path(p.name, "meta").write_text(json.dumps({"plugin": p.name, "signature": p.signature.to_json()}))
        layout.path(p.name, "subgraph").write_bytes(p.subgraph)
    replacements = [Replacement(n.node_index, n.node_name, name, n.inputs, n.outputs, n.folded,
                                input_casts=n.input_casts, output_casts=n.output_casts, fused=n.fused)
                    for n, name in mp.nodes]
    rewritten = rewrite(onnx.load(str(mp.source)), replacements)
    onnx.checker.check_model(rewritten)
    path = out / "m.tpat.onnx"
    onnx.save(rewritten, path)
    return path, Path(mp.source), layout.root, plan
