"""Untuned vs tuned, per case with H100 records, from results.json files of benchmarks/run.py (no GPU needed).

    python3 benchmarks/compare.py UNTUNED.json TUNED.json [TUNED2.json ...] > benchmarks/results/tuned_vs_untuned.md

Each case that has records (benchmarks/records/<case>) is matched with the untuned row of the same case. The tuned
run builds those cases from their records; where tune.json's verdict kept the default schedule (the tuned one
measured slower), the tuned run runs the default kernels and the row says so. Eager, torch.compile and the
roofline come from the tuned file's run; "untuned" from the untuned run. All files must come from one device
(checked), so the speedups compare kernels measured on the same GPU, driver and torch.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def _rows(path: Path) -> tuple[dict, dict[str, dict]]:
    data = json.loads(Path(path).read_text())
    return data["env"], {r["case"]: r for r in data["rows"] if r.get("status") == "ok" and r.get("ours")}


RECORDS = Path(__file__).resolve().parent / "records"


def _tune(case: str) -> dict | None:
    tune = RECORDS / case / "tune.json"
    return json.loads(tune.read_text()) if tune.is_file() else None


def _verdict(tune: dict) -> str:
    """What the tuned build runs, with meta_schedule's runner times (µs) behind the choice."""
    kernels = tune.get("kernels")
    if not kernels:
        return "tuned (no verdict)"
    parts = []
    for k in kernels.values():
        which = "tuned" if k["kept"] else "default"
        parts.append(f"{which} ({k['tuned_us']:.1f} vs {k['default_us']:.1f})" if k.get("default_us") else which)
    return ", ".join(parts)


def compare(untuned_path: Path, tuned_paths: list[Path]) -> str:
    env, untuned = _rows(untuned_path)
    lines = [f"# Tuned vs untuned kernels: {env['device']}", "",
             f"meta_schedule, 64 trials per case; µs per call (CUDA-graph replay, median of 5). "
             f"torch {env['torch']}, driver {env['driver']}.", "",
             "Kept: the schedule the tuned build runs, with meta_schedule's runner times in µs (tuned vs default): "
             "a tuned schedule is kept only at ≤ 98 % of the default's time and ≥ 0.25 µs faster.", "",
             "| case | dtype | untuned µs | tuned µs | tuned / untuned | kept | eager µs | compile µs | tuned vs eager "
             "| tuned vs compile | % roofline | tuning time |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    gains, vs_eager, vs_compile = [], [], []
    for path in tuned_paths:
        tenv, tuned = _rows(path)
        if tenv["device"] != env["device"] or tenv["driver"] != env["driver"]:
            raise SystemExit(f"{path}: measured on {tenv['device']} / {tenv['driver']}, not {env['device']}")
        for case, row in tuned.items():
            base, tune = untuned.get(case), _tune(case)
            if base is None or tune is None:
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
                         f"{gain:.2f}× | {_verdict(tune)} | {row['eager']['us']:.1f} | {compile_us} | "
                         f"{row['vs_eager']:.2f}× | {row.get('vs_compile') or 0:.2f}× | {roof} | "
                         f"{tune['seconds']:.0f} s |")

    def geo(xs):
        return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")

    lines += ["", f"Geomean over {len(gains)} tuned cases: tuned/untuned {geo(gains):.2f}×, vs eager "
              f"{geo(vs_eager):.2f}×, vs torch.compile {geo(vs_compile):.2f}×."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.stdout.write(compare(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
