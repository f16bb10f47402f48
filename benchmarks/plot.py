"""Plot benchmarks/results/results.json as a PNG (matplotlib).

    python3 benchmarks/plot.py benchmarks/results/results.json [out.png]

One row per case: GPU µs per call of ours, torch eager and torch.compile (log scale), with the DRAM roofline as a
black tick (hollow where the working set fits in L2 and the roofline is no bound). run.py calls `plot` itself when
matplotlib is installed on the GPU machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def plot(results: Path, png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(Path(results).read_text())
    env, rows = data["env"], data["rows"]
    rows = [r for r in rows if r.get("status") == "ok"]
    names = [f"{r['case']}" for r in rows]
    series = [("ours (tpat, untuned)", "ours", "#d62728"), ("torch eager", "eager", "#1f77b4"),
              ("torch.compile", "compile", "#2ca02c")]
    if any(r.get("static") for r in rows):  # the breadth suite: ours is the symbolic build, beside its static twin
        series.insert(1, ("ours, static build of the shape", "static", "#ff9896"))
    n, h = len(rows), 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(10, 0.42 * n + 1.8))
    for k, (label, key, color) in enumerate(series):
        ys = [i + (k - (len(series) - 1) / 2) * h for i in range(n)]
        xs = [r.get(key, {}).get("us") or 0 for r in rows]
        ax.barh(ys, xs, height=h, color=color, label=label)
    for i, r in enumerate(rows):
        hollow = r.get("l2_resident")
        ax.plot([r["roofline_us"]], [i], marker="|", markersize=16, mew=2.5,
                color="0.6" if hollow else "black", label=None)
    ax.plot([], [], marker="|", markersize=12, mew=2.5, ls="", color="black", label="DRAM roofline")
    ax.plot([], [], marker="|", markersize=12, mew=2.5, ls="", color="0.6", label="roofline, fits in L2 (no bound)")
    ax.set_yticks(range(n))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("GPU time per call, µs (CUDA-graph replay, median of 5; log scale)")
    ax.set_title(f"tpat vs torch — {env['device']}, torch {env['torch']}, {env['date']}", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/results.json")
    print(plot(src, Path(sys.argv[2]) if len(sys.argv) > 2 else src.with_suffix(".png")))
