"""The conformance report: per case what happened (CPU: converted or the stage and reason it failed; GPU: passed
or the error), counted per op type and per cause, and rendered as docs/operators.md.

The report is JSON (`--report`): `cases` holds one entry per case (runner.CaseResult.to_json, plus `gpu` when the
bundle ran on a GPU). Causes are named by rules over the failure message (`CAUSES`), first match wins, so the
census and the docs count the same way.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

# (cause, stage or None for any, pattern in the message): first match wins
CAUSES: tuple[tuple[str, str | None, str], ...] = (
    ("random output (no implementation reproduces it)", "case", r"^random output: "),
    ("not a tensor op (sequence, optional, string)", "case", r""),
    ("crashed or hung (worker lost)", "worker", r""),
    ("internal error (bug in tpat)", None, r"^internal error"),
    ("dtype without a TensorRT type", None, r"TensorRT plugin cannot carry|has no TensorRT type"),
    ("no converter in TVM's ONNX frontend", None, r"not supported for frontend ONNX"),
    ("TVM's ONNX frontend fails on this form of the op", None, r"cannot import node"),
    ("plugin would call the TVM runtime", None, r"call into the TVM runtime|allocates device memory"),
    ("multi-output node", None, r"TupleGetItem|output \d+ aliases|returns \d+ outputs"),
    ("output aliases an input (identity/view op)", None, r"aliases an input"),
    ("shape not known statically", None, r"no known size|data-dependent shape|depends on something other"),
    ("TVM lowering failed", "lower", r""),
    ("nvcc failed", "build", r""),
)
# causes that put a case beyond any TensorRT plugin: no TensorRT type for its tensors, or not tensors at all; and
# beyond any implementation: expected outputs that are one draw of numpy's random generator
OUT_OF_REACH = ("dtype without a TensorRT type", "not a tensor op (sequence, optional, string)",
                "random output (no implementation reproduces it)")
DTYPE_NAMES = {"float": "fp32", "float16": "fp16", "bfloat16": "bf16", "double": "fp64", "int8": "int8",
               "uint8": "uint8", "int16": "int16", "uint16": "uint16", "int32": "int32", "uint32": "uint32",
               "int64": "int64", "uint64": "uint64", "bool": "bool"}


def cause_of(entry: dict) -> str | None:
    """The named cause of a case that did not convert (None for one that did)."""
    if entry["status"] == "built":
        return None
    message = entry.get("error") or ""
    for cause, stage, pattern in CAUSES:
        if stage is not None and entry.get("stage") != stage:
            continue
        if cause.startswith("internal") and not entry.get("internal"):
            continue
        if re.search(pattern, message):
            return cause
    return f"other ({entry.get('stage')})"


def dtype_name(onnx_name: str) -> str:
    return DTYPE_NAMES.get(onnx_name, onnx_name)


def verdict(entry: dict) -> str:
    """passed | failed (on the GPU) | built (not yet run on a GPU) | refused (a clear TpatError) | broken (a crash,
    an internal error or an unclear message) | skipped"""
    if entry["status"] == "built":
        gpu = entry.get("gpu")
        if gpu is None:
            return "built"
        return "passed" if gpu["passed"] else "failed"
    if entry["status"] == "skipped":
        return "skipped"
    return "refused" if entry.get("clear") and not entry.get("internal") else "broken"


def summary(report: dict) -> dict:
    """Counts: cases by verdict, causes, and op types (an op type passes when every one of its cases passed)."""
    entries = report["cases"]
    by_op: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_op[e["op_type"]].append(e)
    verdicts = Counter(verdict(e) for e in entries)
    causes = Counter(cause_of(e) for e in entries if e["status"] != "built")
    ops_converted = sorted(op for op, es in by_op.items() if all(e["status"] == "built" for e in es))
    ops_some = sorted(op for op, es in by_op.items() if any(e["status"] == "built" for e in es))
    ops_passed = sorted(op for op, es in by_op.items() if all(verdict(e) == "passed" for e in es))
    # the cases a TensorRT plugin can take at all: tensors of TensorRT's types (not fp8/int4/int16, sequences...)
    carried = {op: [e for e in es if cause_of(e) not in OUT_OF_REACH] for op, es in by_op.items()}
    carried = {op: es for op, es in carried.items() if es}
    gpu = any("gpu" in e for e in entries)
    return {"cases": len(entries), "verdicts": dict(sorted(verdicts.items())),
            "built": sum(e["status"] == "built" for e in entries),
            "causes": dict(causes.most_common()), "op_types": len(by_op),
            "op_types_all_converted": len(ops_converted), "op_types_some_converted": len(ops_some),
            "op_types_all_passed": len(ops_passed) if gpu else None,
            "op_types_trt_cases": len(carried),
            "op_types_trt_all_converted": sum(all(e["status"] == "built" for e in es) for es in carried.values()),
            "op_types_trt_all_passed": sum(all(verdict(e) == "passed" for e in es) for es in carried.values())
            if gpu else None,
            "unclear": sorted(e["case"] for e in entries if verdict(e) == "broken")}


def per_op(report: dict) -> dict[str, dict]:
    """op type -> {dtype -> {verdict: count}} and the distinct causes of its failures."""
    table: dict[str, dict] = {}
    for e in report["cases"]:
        row = table.setdefault(e["op_type"], {"dtypes": defaultdict(Counter), "causes": Counter(),
                                              "worst": 0.0})
        row["dtypes"][dtype_name(e["dtype"])][verdict(e)] += 1
        cause = cause_of(e) if e["status"] != "built" else None
        if verdict(e) == "failed":
            cause = f"wrong result on the GPU: {e['gpu'].get('detail', '')}".rstrip(": ")
        if cause:
            row["causes"][cause] += 1
        if "gpu" in e:
            row["worst"] = max(row["worst"], e["gpu"].get("max_abs_err", 0.0))
    return dict(sorted(table.items()))


def text_summary(report: dict) -> str:
    s = summary(report)
    lines = [f"{s['cases']} cases of {s['op_types']} op types: " + ", ".join(f"{v} {k}" for k, v in
                                                                            s["verdicts"].items()),
             f"op types with every case converted: {s['op_types_all_converted']}, with some: "
             f"{s['op_types_some_converted']}"]
    lines.append(f"op types with cases of TensorRT dtypes: {s['op_types_trt_cases']}, every such case converted: "
                 f"{s['op_types_trt_all_converted']}")
    if s["op_types_all_passed"] is not None:
        lines.append(f"op types with every case passing on the GPU: {s['op_types_all_passed']}; every case of "
                     f"TensorRT dtypes: {s['op_types_trt_all_passed']}")
    lines.append("not converted, by cause:")
    lines += [f"  {n:5d}  {cause}" for cause, n in s["causes"].items()]
    if s["unclear"]:
        lines.append(f"crashes, internal errors or unclear messages: {len(s['unclear'])} "
                     f"({', '.join(s['unclear'][:8])}{', ...' if len(s['unclear']) > 8 else ''})")
    return "\n".join(lines)
