"""Issue 15's targets, checked on a run's rows (no GPU): what results.md's "Targets" section says.

Over both suites in one run: geomean >= 1.2x torch.compile and >= 1.8x torch eager, no case below 0.85x
torch.compile, every DRAM-bound case of >= 64 MB at >= 85 % of the copy-bandwidth roofline; symbolic kernels
within 10 % of the static build of the same shape; the fused mask+Softmax with dynamic batch and sequence
>= 1.0x torch.compile at sequence 128, 384 and 512. Rows that lose say why: `reasons.json` (case -> text, by
the case's base name) is filled in after a run and shown by `run.py --rescore`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

REASONS = Path(__file__).resolve().parent / "reasons.json"
GEO_COMPILE, GEO_EAGER, FLOOR_COMPILE = 1.2, 1.8, 0.85
BIG_BYTES, BIG_PCT = 64 * 2**20, 85.0
SYMBOLIC_SLACK = 1.10  # symbolic time <= 1.1x the static build's
ATTENTION = "attn_softmax"


def reasons() -> dict[str, str]:
    return json.loads(REASONS.read_text()) if REASONS.is_file() else {}


def reason(row: dict) -> str:
    known = reasons()
    return known.get(row["case"]) or known.get(row.get("base", row["case"]), "")


def _geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def sym_vs_static(row: dict) -> float | None:
    """static µs / symbolic µs (>= 1/1.1 meets the target: the symbolic kernel within 10 %)."""
    o, s = row.get("ours", {}).get("us"), row.get("static", {}).get("us")
    return s / o if o and s else None


def check(rows) -> list[tuple[str, bool | None, str]]:
    """(target, met (None: not measured), figures) for each of issue 15's targets."""
    ok = [r for r in rows if r.get("status") == "ok"]
    out = []
    gc, ge = _geomean([r.get("vs_compile") for r in ok]), _geomean([r.get("vs_eager") for r in ok])
    out.append((f"geomean >= {GEO_COMPILE}x torch.compile", None if gc is None else gc >= GEO_COMPILE,
                "—" if gc is None else f"{gc:.2f}x over {sum(1 for r in ok if r.get('vs_compile'))} rows"))
    out.append((f"geomean >= {GEO_EAGER}x torch eager", None if ge is None else ge >= GEO_EAGER,
                "—" if ge is None else f"{ge:.2f}x over {sum(1 for r in ok if r.get('vs_eager'))} rows"))
    low = sorted((r for r in ok if r.get("vs_compile") and r["vs_compile"] < FLOOR_COMPILE),
                 key=lambda r: r["vs_compile"])
    out.append((f"no case below {FLOOR_COMPILE}x torch.compile", not low if ok else None,
                ", ".join(f"{r['case']} {r['vs_compile']:.2f}x" for r in low) or "none below"))
    big = [r for r in ok if r.get("l2") == "" and r["bytes"] >= BIG_BYTES and r.get("pct_roofline") is not None]
    slow = [r for r in big if r["pct_roofline"] < BIG_PCT]
    out.append((f"DRAM-bound cases >= 64 MB at >= {BIG_PCT:.0f} % of the roofline", not slow if big else None,
                f"{len(big) - len(slow)} of {len(big)}" + ("; below: " + ", ".join(
                    f"{r['case']} {r['pct_roofline']:.0f} %" for r in slow) if slow else "")))
    pairs = [(r, sym_vs_static(r)) for r in ok if r.get("suite") == "breadth" and sym_vs_static(r)]
    far = [(r, x) for r, x in pairs if x < 1 / SYMBOLIC_SLACK]
    out.append(("symbolic kernels within 10 % of the static build", not far if pairs else None,
                f"{len(pairs) - len(far)} of {len(pairs)}" + ("; slower: " + ", ".join(
                    f"{r['case']} {1 / x:.2f}x static" for r, x in far) if far else "")))
    attn = [r for r in ok if r.get("base", "").startswith(ATTENTION) and r.get("vs_compile")]
    out.append(("fused mask+Softmax (dynamic batch, sequence) >= 1.0x torch.compile at 128/384/512",
                all(r["vs_compile"] >= 1.0 for r in attn) if attn else None,
                ", ".join(f"{r['case']} {r['vs_compile']:.2f}x" for r in attn) or "—"))
    return out


def markdown(rows) -> list[str]:
    lines = ["", "**Targets (issue 15)**, over every row of this run:", "", "| target | met | figures |",
             "|---|:-:|---|"]
    for target, met, figures in check(rows):
        lines.append(f"| {target} | {'—' if met is None else 'yes' if met else '**no**'} | {figures} |")
    return lines
