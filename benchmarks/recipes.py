"""Every recipe converted, then run whole on the GPU against onnxruntime: issue 16's figures, in two steps.

    # CPU machine (TVM): make each model, convert it cold (empty cache) and warm, gather what the GPU needs
    PYTHONPATH=. python3 benchmarks/recipes.py prebuild .device/recipes [--recipes bert_encoder ...]
    # GPU machine (onnxruntime + CUDA, no TVM): regenerate the weights, run each rewritten model whole
    PYTHONPATH=. python3 benchmarks/recipes.py run .device/recipes [--out benchmarks/results/recipes-h200]

`prebuild` runs each recipe's `make_model.py` (when its model is missing), then `tpat apply` twice with a fresh
cache folder -- cold (every stage runs), then warm (every task cached) -- timing both, and counts the targets'
node groups against the distinct plugins built for them (pattern fusion shares one plugin per pattern, not one
per layer). It copies the graphs (original and rewritten, without their weight files), the kernels libraries and
the plugins' meta into `<dir>/<recipe>/`, and the CPU figures into `<dir>/recipes.json`.

`run` writes each model's weights back from the rules its graph carries (`recipes/weights.py`: random, seeded by
tensor name, digest-checked), then checks the rewritten model whole -- plugin nodes through their kernels on the
GPU, the rest in onnxruntime -- against the original at the min / opt / max and an odd value of every dynamic dim
(`tpat.runtime.whole_model.check_files`), and writes recipes.md and recipes.json beside the CPU figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


def _spec(recipe: Path) -> Path:
    for name in ("spec.yaml", "recipe.yaml"):
        if (recipe / name).is_file():
            return recipe / name
    raise SystemExit(f"{recipe}: no spec.yaml or recipe.yaml")


def _apply(spec: Path, cache: Path) -> float:
    env = {**os.environ, "TPAT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tpat.cli", "apply", str(spec)], env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"tpat apply {spec} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return round(seconds, 1)


def _plugin_counts(rewritten: Path) -> dict:
    import onnx

    model = onnx.load(str(rewritten), load_external_data=False)
    nodes = [n for n in model.graph.node if n.domain == "trt.plugins"]
    return {"plugin_nodes": len(nodes), "plugins": len({n.op_type for n in nodes})}


def prebuild(out: Path, names: list[str]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    for name in names:
        recipe = RECIPES / name
        if not (recipe / "model.onnx").is_file():
            subprocess.run([sys.executable, str(recipe / "make_model.py")], check=True, cwd=ROOT)
        spec = _spec(recipe)
        with tempfile.TemporaryDirectory(prefix="tpat-recipe-cache-") as cache:
            cold = _apply(spec, Path(cache))
            warm = _apply(spec, Path(cache))
        produced = recipe / "tpat_out"
        rewritten = produced / "model.tpat.onnx"
        dest = out / name
        shutil.rmtree(dest, ignore_errors=True)
        (dest / "tpat_out" / "trt_plugin").mkdir(parents=True)
        shutil.copy2(recipe / "model.onnx", dest / "model.onnx")
        shutil.copy2(rewritten, dest / "tpat_out" / "model.tpat.onnx")
        shutil.copy2(produced / "tpat.lock.yaml", dest / "tpat_out" / "tpat.lock.yaml")
        plugins = produced / "trt_plugin"
        (dest / "tpat_out" / "trt_plugin" / "lib").mkdir()
        for lib in (plugins / "lib").glob("lib*_kernels.so"):
            shutil.copy2(lib, dest / "tpat_out" / "trt_plugin" / "lib" / lib.name)
        shutil.copytree(plugins / "meta", dest / "tpat_out" / "trt_plugin" / "meta")
        figures[name] = {"spec": str(spec.relative_to(ROOT)), "apply_cold_s": cold, "apply_warm_s": warm,
                         **_plugin_counts(rewritten)}
        print(f"{name}: cold {cold}s warm {warm}s {figures[name]}", flush=True)
    (out / "recipes.json").write_text(json.dumps(figures, indent=1) + "\n")
    return 0


def _materialize(model: Path) -> None:
    sys.path.insert(0, str(RECIPES))
    import weights

    weights.materialize(model)


def run(folder: Path, out: Path, backend: str = "gpu") -> int:
    from tpat.runtime.whole_model import check_files

    figures = json.loads((folder / "recipes.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, row in figures.items():
        original, rewritten = folder / name / "model.onnx", folder / name / "tpat_out" / "model.tpat.onnx"
        for model in (original, rewritten):
            _materialize(model)
        start = time.perf_counter()
        result = check_files(rewritten, original, backend=backend)
        row["check_s"] = round(time.perf_counter() - start, 1)
        row["passed"], row["backend"] = result.passed, backend
        row["points"] = [{"label": p.label, "dims": p.dims,
                          "max_abs_err": max((o.max_abs_err for o in p.outputs), default=0.0)}
                         for p in result.points]
        failed += not result.passed
        print(result.summary(), flush=True)
    (out / "recipes.json").write_text(json.dumps(figures, indent=1) + "\n")
    (out / "recipes.md").write_text(_table(figures))
    print(_table(figures))
    return 1 if failed else 0


def _table(figures: dict) -> str:
    lines = ["| recipe | plugin nodes | plugins | apply cold s | apply warm s | whole model vs the original: max abs err "
             "per point | passed |", "|---|---:|---:|---:|---:|---|---|"]
    for name, r in figures.items():
        points = ", ".join(f"{p['label']} {p['dims']} {p['max_abs_err']:.2g}" for p in r.get("points", []))
        lines.append(f"| {name} | {r['plugin_nodes']} | {r['plugins']} | {r['apply_cold_s']} | {r['apply_warm_s']} "
                     f"| {points} | {r.get('passed', '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prebuild")
    p.add_argument("out", type=Path)
    p.add_argument("--recipes", nargs="*", default=sorted(d.name for d in RECIPES.iterdir()
                                                           if (d / "make_model.py").is_file()))
    r = sub.add_parser("run")
    r.add_argument("folder", type=Path)
    r.add_argument("--out", type=Path, default=None)
    r.add_argument("--backend", choices=("gpu", "reference"), default="gpu",
                   help="reference: each plugin's node model in onnxruntime (a CPU dry run of the wiring)")
    args = ap.parse_args(argv)
    if args.command == "prebuild":
        return prebuild(args.out, args.recipes)
    return run(args.folder, args.out or args.folder / "results", args.backend)


if __name__ == "__main__":
    sys.exit(main())
