"""Models converted per minute: the local executor (`-j N`) against Dask (a local cluster of N CPU workers), the same
spec on the same machine, each run from a cold cache, as a user runs them (`tpat apply` in a child process: start-up,
planning, the cluster's start and stop, the outputs and the manifest all count).

    PYTHONPATH=. python3 benchmarks/dask_throughput.py                    # 10 models, -j 2 against 2 workers
    PYTHONPATH=. python3 benchmarks/dask_throughput.py --models 20 --jobs 4 --repeat 2

Each model is x[batch, w] -> Erf -> Softmax -> y with its own width w, both nodes targets: two plugins a model, none
shared, so every model costs the same three CPU tasks per plugin (lower, codegen, build; no GPU here, so no
validation). The two runs must write byte-identical manifests (checked), so the figures compare like with like.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_zoo(folder: Path, n: int, width0: int = 16) -> Path:
    """`n` models and a spec converting their Erf and Softmax nodes; returns the spec path."""
    import onnx
    import yaml
    from onnx import TensorProto
    from onnx import helper as h

    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n):
        w = width0 + i
        nodes = [h.make_node("Erf", ["x"], ["t"], name="erf"), h.make_node("Softmax", ["t"], ["y"], name="softmax",
                                                                           axis=-1)]
        graph = h.make_graph(nodes, f"zoo_{i}", [h.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", w])],
                             [h.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", w])])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="tpat-bench")
        model.ir_version = 8
        onnx.save(model, folder / f"m{i:03d}.onnx")
        entries.append({"path": f"m{i:03d}.onnx", "targets": {"op_types": ["Erf", "Softmax"]}})
    spec = {"version": 1, "output_dir": "out", "cache_dir": "cache",
            "defaults": {"arch": ["sm_90"], "dynamic": {"batch": {"min": 1, "opt": 64, "max": 256}}},
            "models": entries}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder / "spec.yaml"


def timed_apply(spec: Path, *flags: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress", *flags],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"tpat apply {' '.join(flags)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2, help="local processes, and Dask CPU workers (default 2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each executor, alternating (default 1)")
    args = ap.parse_args(argv)
    runs = {"local": ("-j", str(args.jobs)), "dask": ("--executor", "dask", "-j", str(args.jobs))}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    with tempfile.TemporaryDirectory(prefix="tpat-dask-throughput-") as tmp:
        for r in range(args.repeat):
            manifests = {}
            for kind, flags in runs.items():
                spec = write_zoo(Path(tmp) / f"{kind}-{r}", args.models)  # a cold cache of its own
                seconds[kind].append(timed_apply(spec, *flags))
                manifests[kind] = (spec.parent / "out" / "tpat.lock.yaml").read_bytes()
                print(f"run {r + 1}: {kind:5} {seconds[kind][-1]:7.1f} s", flush=True)
            if manifests["local"] != manifests["dask"]:
                raise SystemExit("the manifests of the two executors differ")
    print(f"\n{args.models} models (2 plugins each, 3 CPU tasks a plugin), cold cache, manifests byte-identical\n")
    print("| executor | runs (s) | best s | models / min |\n|---|---|---:|---:|")
    labels = {"local": f"local, -j {args.jobs}", "dask": f"Dask, local cluster of {args.jobs} CPU workers"}
    for kind, values in seconds.items():
        best = min(values)
        print(f"| {labels[kind]} | {', '.join(f'{v:.1f}' for v in values)} | {best:.1f} | "
              f"{60 * args.models / best:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
