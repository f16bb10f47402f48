"""Tuning N plugins on one GPU worker against two: the Dask executor spreads tune tasks over the GPU workers of a
cluster (one task per GPU at a time), so the tuning wall time of a zoo should fall with the GPUs.

Needs TVM and GPUs (on the lent 2-GPU machine: the TVM bundle of ../shared/device/README.md plus the Dask wheels of
benchmarks/dask_bundle.sh); the exact calls are in benchmarks/README.md ("Dask"). Three steps:

    PYTHONPATH=. python3 benchmarks/dask_tuning.py make DIR [--plugins 8] [--trials 16]   # models + zoo.json
    PYTHONPATH=. python3 benchmarks/dask_tuning.py run DIR --gpus 2 --out R2.json         # on the GPU machine
    PYTHONPATH=. python3 benchmarks/dask_tuning.py run DIR --gpus 1 --out R1.json
    PYTHONPATH=. python3 benchmarks/dask_tuning.py report R1.json R2.json                 # side by side

`make` writes N single-op models of the benchmark suite (benchmarks/cases.py: Softmax, LayerNorm, GELU, ReduceMax)
and the tuning budget. Each `run` starts a local cluster with `--gpus` GPU workers (GPUs 0..k-1, each its own
CUDA_VISIBLE_DEVICES and the resource GPU=1) and `--cpu-workers` CPU workers, imports TVM on every worker (outside
the timing), then times `tpat apply --scheduler-address ...` on a fresh spec and a cold cache (validation off: the
figure is tuning, plus the CPU stages after it). Dask's task stream says which worker ran each tune task and for
how long. `--gpus 0` runs the CPU stages only (a smoke test of the script on a machine without a GPU: nothing is
tuned there).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ZOO = ("softmax_b1_fp32", "softmax_b64_fp32", "layernorm_b1_fp32", "layernorm_b64_fp32", "gelu_b1_fp32",
       "gelu_b64_fp32", "reducemax_256x82x128", "softmax_b64_fp16", "layernorm_b64_fp16", "gelu_b64_fp16",
       "softmax_b1_fp16", "layernorm_b1_fp16")


def make(folder: Path, plugins: int, trials: int) -> None:
    import onnx

    from benchmarks.cases import CASES

    if not 1 <= plugins <= len(ZOO):
        raise SystemExit(f"--plugins must be 1..{len(ZOO)}")
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name in ZOO[:plugins]:
        onnx.save(CASES[name].model(), models / f"{name}.onnx")
    (folder / "zoo.json").write_text(json.dumps({"cases": list(ZOO[:plugins]), "trials": trials}, indent=1))
    print(f"{folder}: {plugins} models, {trials} trials each")


def _spec(folder: Path, run_dir: Path) -> Path:
    import yaml

    zoo = json.loads((folder / "zoo.json").read_text())
    run_dir.mkdir(parents=True)
    spec = {"version": 1, "output_dir": "out", "cache_dir": "cache",
            "defaults": {"arch": ["sm_90"], "validate": False, "tuning": {"trials": zoo["trials"]}},
            "models": [{"path": str((folder / "models" / f"{c}.onnx").resolve()), "targets": {"nodes": [c]}}
                       for c in zoo["cases"]]}
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return run_dir / "spec.yaml"


def _import_tvm() -> str:
    import tvm

    return tvm.__version__


def run(folder: Path, gpus: int, cpu_workers: int, out: Path | None) -> dict:
    from distributed import Client, get_task_stream

    from tpat.executor.dask_cluster import local_cluster, workers
    from tpat.gpu.cudart import visible_gpus

    visible = visible_gpus()
    if len(visible) < gpus:
        raise SystemExit(f"--gpus {gpus}, but {len(visible)} GPU(s) visible here: {visible}")
    spec = _spec(folder, folder / f"run-gpus{gpus}-{time.strftime('%Y%m%d-%H%M%S')}")
    with local_cluster(cpu_workers, visible[:gpus]) as cluster, Client(cluster) as client:
        client.wait_for_workers(cpu_workers + gpus, timeout=300)
        names = {a: w.get("name") for a, w in workers(client).items()}
        tvm = set(client.run(_import_tvm).values())
        with get_task_stream(client) as stream:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "tpat.cli", "apply", str(spec), "--no-progress",
                                   "--scheduler-address", cluster.scheduler_address], capture_output=True, text=True)
            wall = time.perf_counter() - start
        names.update({a: w.get("name") for a, w in workers(client).items()})
    if proc.returncode != 0:
        raise SystemExit(f"tpat apply failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    tasks = []
    for t in stream.data:
        key = str(t["key"])
        if not key.startswith("tpat-"):
            continue
        stage, rest = key[len("tpat-"):].split("-", 1)
        compute = [s for s in t["startstops"] if s["action"] == "compute"]
        tasks.append({"stage": stage, "plugin": rest.rsplit("-", 1)[0], "worker": names.get(t["worker"], t["worker"]),
                      "start": min(s["start"] for s in compute), "seconds": sum(s["stop"] - s["start"] for s in compute)})
    t0 = min((t["start"] for t in tasks), default=0.0)
    for t in tasks:
        t["start"] = round(t["start"] - t0, 2)
        t["seconds"] = round(t["seconds"], 2)
    result = {"gpus": gpus, "gpu_ids": visible[:gpus], "cpu_workers": cpu_workers, "tvm": sorted(tvm),
              "wall_s": round(wall, 1), "trials": json.loads((folder / "zoo.json").read_text())["trials"],
              "tasks": sorted(tasks, key=lambda t: t["start"])}
    _print_run(result)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    return result


def _print_run(r: dict) -> None:
    tunes = [t for t in r["tasks"] if t["stage"] == "tune"]
    print(f"{r['gpus']} GPU worker(s), {r['cpu_workers']} CPU workers: tpat apply {r['wall_s']} s; "
          f"{len(tunes)} tune tasks, {sum(t['seconds'] for t in tunes):.1f} s of tuning")
    for t in tunes:
        print(f"  tune {t['plugin']:28} on {t['worker']:8} from {t['start']:7.1f} s for {t['seconds']:6.1f} s")


def report(paths: list[Path]) -> None:
    results = sorted((json.loads(p.read_text()) for p in paths), key=lambda r: r["gpus"])
    base = results[0]["wall_s"]
    print("| GPU workers | tune tasks per worker | tuning s (sum) | wall s (tpat apply) | speed-up |")
    print("|---:|---|---:|---:|---:|")
    for r in results:
        tunes = [t for t in r["tasks"] if t["stage"] == "tune"]
        per = {}
        for t in tunes:
            per[t["worker"]] = per.get(t["worker"], 0) + 1
        spread = ", ".join(f"{w}: {n}" for w, n in sorted(per.items())) or "none"
        print(f"| {r['gpus']} | {spread} | {sum(t['seconds'] for t in tunes):.1f} | {r['wall_s']:.1f} | "
              f"{base / r['wall_s']:.2f}x |")
    plugins = {t["plugin"] for t in results[0]["tasks"]}
    print(f"\n{len(plugins)} plugins, {results[0]['trials']} trials each, cold cache, validation off; "
          f"TVM {', '.join(results[0]['tvm'])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write the models and the tuning budget")
    m.add_argument("dir", type=Path)
    m.add_argument("--plugins", type=int, default=8)
    m.add_argument("--trials", type=int, default=16)
    r = sub.add_parser("run", help="tune them on a local cluster with --gpus GPU workers")
    r.add_argument("dir", type=Path)
    r.add_argument("--gpus", type=int, required=True)
    r.add_argument("--cpu-workers", type=int, default=2)
    r.add_argument("--out", type=Path, default=None, help="write the result (JSON) here")
    p = sub.add_parser("report", help="the runs side by side")
    p.add_argument("results", type=Path, nargs="+")
    args = ap.parse_args(argv)
    if args.command == "make":
        make(args.dir, args.plugins, args.trials)
    elif args.command == "run":
        run(args.dir, args.gpus, args.cpu_workers, args.out)
    else:
        report(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
