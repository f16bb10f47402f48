"""Fused pattern plugins against the same nodes as one plugin each and against torch.compile, in one GPU run.

    # CPU machine (TVM): the recipes' fused plugins, and each of their nodes built as a plugin of its own
    PYTHONPATH=. python3 benchmarks/fusion.py prebuild .device/fusion
    # GPU machine (torch, no TVM): time all three per pattern
    PYTHONPATH=. python3 benchmarks/fusion.py run .device/fusion [--out benchmarks/results/fusion]

`prebuild` takes every fused plugin (op type with '+') of `recipes/*/tpat_out/trt_plugin` (run `tpat apply
recipes/<name>/spec.yaml` first), copies its kernels library, node model and meta into `<dir>/<case>/fused/`, and
converts that node model with every node a target into `<dir>/<case>/pernode/` (`tpat apply`, no validation). A
node that cannot be a plugin alone (a view: Reshape, Transpose) is recorded and the per-node sum is left out.

`run`, at the opt dims of each plugin: random inputs, then per case, each captured in a CUDA graph and replayed
(`benchmarks/run.py`'s timing: median of 5 replays per call)

  fused    the fused plugin's kernels (its C ABI on torch tensors' pointers)
  pernode  every node's plugin launched in graph order (intermediates in torch buffers)
  compile  torch.compile of the node model, interpreted op by op with torch functions (one traced graph)

checking fused and per-node outputs against the torch interpretation first. Writes fusion.md and fusion.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOL = (1e-3, 1e-4)


def prebuild(out: Path) -> int:
    import onnx
    import yaml

    from tpat.ir.signature import Signature
    from tpat.layout import PluginLayout
    from tpat.workflow import apply_spec

    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for meta_path in sorted(ROOT.glob("recipes/*/tpat_out/trt_plugin/meta/*.json")):
        meta = json.loads(meta_path.read_text())
        if "+" not in meta.get("op_type", "") or not meta.get("signature"):
            continue
        recipe, plugin = meta_path.parents[3].name, meta["plugin"]
        src = PluginLayout(meta_path.parents[1])
        case = out / f"{recipe}__{plugin}"
        fused = PluginLayout(case / "fused")
        for role in ("kernels_library", "subgraph", "meta"):
            dest = fused.path(plugin, role)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src.path(plugin, role), dest)
        sig = Signature.from_json(meta["signature"])
        model = onnx.load(str(src.path(plugin, "subgraph")))
        pernode = case / "pernode"
        pernode.mkdir(parents=True, exist_ok=True)
        onnx.save(model, pernode / "nodes.onnx")
        spec = {"version": 1, "output_dir": "out",
                "defaults": {"arch": meta["arch"], "validate": False,
                             "dynamic": {d.name: {"min": d.min, "opt": d.opt, "max": d.max} for d in sig.dims}},
                "models": [{"path": "nodes.onnx", "targets": {"nodes": [n.name for n in model.graph.node]}}]}
        (pernode / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        result = apply_spec(pernode / "spec.yaml", progress=False)
        failed = {name: c.error.splitlines()[0] for name, c in result.chains.items() if c.error}
        cases.append({"case": case.name, "recipe": recipe, "plugin": plugin, "op_type": meta["op_type"],
                      "nodes": len(model.graph.node), "pernode_failed": failed})
        print(f"{case.name}: {meta['op_type']}, {len(model.graph.node)} nodes"
              + (f"; not alone: {sorted(failed)}" if failed else ""))
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    return 0


# --- GPU side (torch, no TVM) ----------------------------------------------------------------------------------------
def torch_op(node, args, attrs):
    """One ONNX node as torch functions (the ops the recipes' patterns contain)."""
    import torch

    op = node.op_type
    if op in ("Add", "Sub", "Mul", "Div"):
        return getattr(torch, op.lower())(args[0], args[1])
    if op == "Erf":
        return torch.erf(args[0])
    if op == "Softmax":
        return torch.softmax(args[0], dim=attrs.get("axis", -1))
    if op == "LayerNormalization":
        axis = attrs.get("axis", -1)
        shape = args[0].shape[axis:] if axis >= 0 else args[0].shape[axis:]
        return torch.nn.functional.layer_norm(args[0], tuple(shape), args[1], args[2] if len(args) > 2 else None,
                                              eps=attrs.get("epsilon", 1e-5))
    if op == "MatMul":
        return torch.matmul(args[0], args[1])
    if op == "Transpose":
        return args[0].permute(*attrs["perm"]) if "perm" in attrs else args[0].permute(*reversed(range(args[0].dim())))
    if op == "Reshape":
        shape = [int(v) for v in args[1].tolist()]
        shape = [args[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return args[0].reshape(shape)
    if op == "GatherND" and attrs.get("batch_dims", 0) == 0:
        idx = args[1]
        return args[0][tuple(idx[..., k] for k in range(idx.shape[-1]))]
    raise NotImplementedError(f"torch reference for {op}")


def interpreter(model):
    """A function of the node model's inputs computing its outputs with torch (torch.compile traces it whole)."""
    import onnx
    import torch
    from onnx import numpy_helper

    host = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    consts = {name: torch.from_numpy(a).cuda() for name, a in host.items()}
    nodes = [(n, [i for i in n.input], list(n.output), {a.name: onnx.helper.get_attribute_value(a)
                                                          for a in n.attribute}) for n in model.graph.node]
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]

    def fn(*args):
        env = dict(consts)
        env.update(zip(inputs, args))
        for node, ins, outs, attrs in nodes:
            args_ = [env[i] for i in ins]
            if node.op_type == "Reshape" and ins[1] in host:  # a shape is read on the host: no copy in a capture
                args_[1] = host[ins[1]]
            env[outs[0]] = torch_op(node, args_, attrs)
        return tuple(env[o] for o in outputs)

    return fn


def _signature(layout, plugin):
    from tpat.ir.signature import Signature

    return Signature.from_json(json.loads(layout.path(plugin, "meta").read_text())["signature"])


def _launcher(layout, plugin, tensors: dict, names_in, names_out, dims_by_label):
    """Launch plugin `plugin` of `layout` on tensors[names]; outputs allocated into `tensors`."""
    import torch

    from benchmarks.run import Kernels

    sig = _signature(layout, plugin)
    dims = [dims_by_label[d.label] for d in sig.dims]
    k = Kernels(layout.path(plugin, "kernels_library"), plugin)
    k.dims = dims
    for name, t in zip(names_out, sig.outputs):
        tensors[name] = torch.empty(t.concrete_shape(dims), dtype=getattr(torch, t.dtype.name), device="cuda")
    ws = k.workspace_bytes()
    workspace = torch.empty(ws, dtype=torch.uint8, device="cuda") if ws else None
    return k.launcher([tensors[n] for n in names_in], [tensors[n] for n in names_out], workspace)


def run_case(case: Path, entry: dict) -> dict:
    import onnx
    import torch

    from benchmarks.run import graph_time_us
    from tpat.layout import PluginLayout

    plugin = entry["plugin"]
    fused = PluginLayout(case / "fused")
    sig = _signature(fused, plugin)
    model = onnx.load(str(fused.path(plugin, "subgraph")))
    opt = {d.label: d.opt for d in sig.dims}
    dims = [d.opt for d in sig.dims]
    torch.manual_seed(0)
    tensors = {vi.name: torch.randn(t.concrete_shape(dims), device="cuda").to(getattr(torch, t.dtype.name))
               for vi, t in zip(model.graph.input, sig.inputs)}
    args = [tensors[vi.name] for vi in model.graph.input]
    row = {**entry, "dims": opt, "notes": []}
    ref_fn = interpreter(model)
    with torch.no_grad():
        want = ref_fn(*args)
    out_names = [o.name for o in model.graph.output]
    fused_run = _launcher(fused, plugin, tensors, [vi.name for vi in model.graph.input], out_names, opt)
    fused_run()
    torch.cuda.synchronize()
    row["fused_max_err"] = max(float((tensors[n] - w).abs().max()) for n, w in zip(out_names, want))
    row["fused"] = graph_time_us(fused_run, 100)
    if not entry["pernode_failed"]:
        layout = PluginLayout(case / "pernode" / "out" / "trt_plugin")
        import yaml

        lock = yaml.safe_load((case / "pernode" / "out" / "tpat.lock.yaml").read_text())
        plugin_of = {n["node"]: n["plugin"] for n in lock["models"][0]["nodes"]}
        per, steps = dict(tensors), []
        for n in model.graph.node:  # graph order: each node's inputs exist when its launcher is made
            meta = json.loads(layout.path(plugin_of[n.name], "meta").read_text())
            node_meta = next(x for x in meta["nodes"] if x["node"] == n.name)
            steps.append(_launcher(layout, plugin_of[n.name], per, node_meta["model_inputs"],
                                   node_meta["model_outputs"], opt))

        def pernode_run():
            for step in steps:
                step()

        pernode_run()
        torch.cuda.synchronize()
        row["pernode_max_err"] = max(float((per[n] - w).abs().max()) for n, w in zip(out_names, want))
        row["pernode"] = graph_time_us(pernode_run, 100)
    else:
        row["notes"].append(f"per-node: not every node can be a plugin alone ({sorted(entry['pernode_failed'])})")
    compiled = torch.compile(ref_fn)
    with torch.no_grad():
        compiled(*args)
        row["compile"] = graph_time_us(lambda: compiled(*args), 100)
    return row


def markdown(rows, env) -> str:
    lines = [f"# Fused pattern plugins vs per-node plugins vs torch.compile ({env})", "",
             "| recipe | pattern | nodes | dims | fused µs | per-node µs | per-node / fused | compile µs | "
             "compile / fused | max err (fused) |", "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f, p, c = r["fused"]["us"], r.get("pernode", {}).get("us"), r["compile"]["us"]
        lines.append(f"| {r['recipe']} | {r['op_type']} | {r['nodes']} | {r['dims']} | {f:.1f} | "
                     f"{'' if p is None else f'{p:.1f}'} | {'' if p is None else f'{p / f:.2f}×'} | {c:.1f} | "
                     f"{c / f:.2f}× | {r['fused_max_err']:.2g} |")
    notes = [f"- {r['case']}: {n}" for r in rows for n in r["notes"]]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def run(prebuilt: Path, out: Path) -> int:
    import torch

    cases = json.loads((prebuilt / "cases.json").read_text())
    rows = []
    for entry in cases:
        try:
            rows.append(run_case(prebuilt / entry["case"], entry))
            r = rows[-1]
            print(f"{entry['case']}: fused {r['fused']['us']:.1f} µs, per-node "
                  f"{r.get('pernode', {}).get('us', float('nan')):.1f} µs, compile {r['compile']['us']:.1f} µs",
                  flush=True)
        except Exception as exc:  # noqa: BLE001 - one case failing must not lose the others
            print(f"{entry['case']}: FAILED {type(exc).__name__}: {exc}", flush=True)
    env = f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fusion.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    (out / "fusion.md").write_text(markdown(rows, env))
    print(markdown(rows, env))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prebuild", help="CPU (TVM): fused and per-node plugins of the recipes")
    p.add_argument("out", type=Path)
    r = sub.add_parser("run", help="GPU (torch): time them")
    r.add_argument("prebuilt", type=Path)
    r.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fusion")
    args = ap.parse_args(argv)
    return prebuild(args.out) if args.cmd == "prebuild" else run(args.prebuilt, args.out)


if __name__ == "__main__":
    sys.exit(main())
