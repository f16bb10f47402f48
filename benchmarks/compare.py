"""Untuned vs tuned, per case, from results.json files of benchmarks/run.py (no GPU needed).

    python3 benchmarks/compare.py UNTUNED.json TUNED.json [TUNED2.json ...] > benchmarks/results/tuned_vs_untuned.md

Each tuned case is matched with the untuned row of the same case. Eager, torch.compile and the roofline come from
the tuned file's run; "untuned" from the untuned run. All files must come from one device (checked), so the
speedups compare kernels measured on the same GPU, driver and torch.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def _rows(path: Path) -> tuple[dict, dict[str, dict]]:
    data = json.loads(Path(path).read_text())
    return data["env"], {r["case"]: r for r in data["rows"] if r.get("status") == "ok" and r.get("ours")}


def _tuning(case: str) -> str:
    tune = Path(__file__).resolve().parent / "records" / case / "tune.json"
    return f"{json.loads(tune.read_text())['seconds']:.0f} s" if tune.is_file() else ""


def compare(untuned_path: Path, tuned_paths: list[Path]) -> str:
    env, untuned = _rows(untuned_path)
    lines = [f"# Tuned vs untuned kernels: {env['device']}", "",
             f"meta_schedule, 64 trials per case; µs per call (CUDA-graph replay, median of 5). "
             f"torch {env['torch']}, driver {env['driver']}.", "",
             "| case | dtype | untuned µs | tuned µs | tuned / untuned | eager µs | compile µs | tuned vs eager "
             "| tuned vs compile | % roofline | tuning time |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    gains, vs_eager, vs_compile = [], [], []
    for path in tuned_paths:
        tenv, tuned = _rows(path)
        if tenv["device"] != env["device"] or tenv["driver"] != env["driver"]:
            raise SystemExit(f"{path}: measured on {tenv['device']} / {tenv['driver']}, not {env['device']}")
        for case, row in tuned.items():
            base = untuned.get(case)
            if base is None:
                continue
            gain = base["ours"]["us"] / row["ours"]["us"]
            gains.append(gain)
            vs_eager.append(row["vs_eager"])
            if row.get("vs_compile"):
                vs_compile.append(row["vs_compile"])
            pct = row.get("pct_roofline")
            roof = "L2-resident" if row.get("l2_resident") else (f"{pct:.0f} %" if pct is not None else "")
            if row.get("l2") == "~" and pct is not None:  # fits L2 only nominally: not a strict DRAM bound
                roof = f"({pct:.0f} %)"
            compile_us = f"{row['compile']['us']:.1f}" if row.get("compile") else "—"
            lines.append(f"| {case} | {row['dtype']} | {base['ours']['us']:.1f} | {row['ours']['us']:.1f} | "
                         f"{gain:.2f}× | {row['eager']['us']:.1f} | {compile_us} | {row['vs_eager']:.2f}× | "
                         f"{row.get('vs_compile') or 0:.2f}× | {roof} | {_tuning(case)} |")

    def geo(xs):
        return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")

    lines += ["", f"Geomean over {len(gains)} tuned cases: tuned/untuned {geo(gains):.2f}×, vs eager "
              f"{geo(vs_eager):.2f}×, vs torch.compile {geo(vs_compile):.2f}×."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.stdout.write(compare(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
