"""Time tpat's generated kernels against torch eager, torch.compile and the DRAM roofline, on one GPU, in one run.

    PYTHONPATH=. python3 benchmarks/run.py --prebuilt .device/bench [--out benchmarks/results] [--cases softmax ...]

`--prebuilt` is what ``benchmarks/prebuild.py`` wrote on the CPU machine (TVM is needed there, not here). Per case:
valid random inputs (``tpat.graph.op_inputs.make_inputs`` on the case model), our output checked against torch eager
first (a wrong case is reported and not timed), then the GPU time per call of

  ours     ``tpat_<plugin>_launch`` through ctypes on torch tensors' pointers and torch's current stream
  eager    the torch reference of benchmarks/cases.py
  compile  ``torch.compile`` (inductor, default mode) of the same function, after warm-up

each captured in a CUDA graph of >= 20 calls, replayed, timed with CUDA events: median of 5 replays / calls per
graph. Per-call wall time (N plain calls, then a sync) is reported beside it. The DRAM roofline is the case's bytes
moved over the bandwidth of a large ``dst.copy_(src)`` measured in the same run (bytes read + written); where the
working set fits in L2 the roofline is not a bound and no percentage is claimed.

Writes results.md, results.json and results.png (when matplotlib is here; else run benchmarks/plot.py elsewhere)
into --out; prints the table last. Needs torch, numpy, onnx; no TVM (``import tpat`` stays lazy).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as _dt
import glob
import json
import math
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from tpat.gpu.kernels_lib import KernelsABI  # noqa: E402

from benchmarks import targets  # noqa: E402
from benchmarks.cases import select  # noqa: E402
from benchmarks.prebuild import variant_key  # noqa: E402

TOL = {"fp32": (1e-4, 1e-5), "fp16": (1e-2, 1e-2)}  # (rtol, atol) of ours vs torch eager
BIG_BYTES = 64 << 20  # cases moving more than this get CALLS_BIG calls per graph, others CALLS_SMALL
CALLS_BIG, CALLS_SMALL = 20, 100
REPLAYS = 5


def log(msg: str) -> None:
    print(msg, flush=True)


# --- the kernels library (C ABI of templates/kernels.h.j2) -----------------------------------------------------------
def _load_cudart(path: Path) -> None:
    """Make libcudart loadable for `path`: if the loader cannot find it, take the one torch ships."""
    try:
        ctypes.CDLL(str(path))
        return
    except OSError:
        import torch

        for lib in glob.glob(str(Path(torch.__file__).parent.parent / "nvidia" / "**" / "libcudart.so*"),
                             recursive=True):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


class Kernels(KernelsABI):
    """tpat's C ABI binding; `dims`: the values of the plugin's dynamic dims (none for fixed-shape builds)."""

    def __init__(self, path: Path, plugin: str, dims=()):
        _load_cudart(path)
        super().__init__(path, plugin)
        self.dims = tuple(dims)

    def workspace_bytes(self) -> int:  # noqa: D102 - at this call's dims
        return super().workspace_bytes(self.dims)

    def launcher(self, inputs, outputs, workspace):
        """A no-argument function launching every kernel on torch's current stream (read at each call)."""
        import torch

        ins = [t.data_ptr() for t in inputs]
        outs = [t.data_ptr() for t in outputs]
        ws = workspace.data_ptr() if workspace is not None else None
        launch, dims = self.launch, self.dims

        def run():
            status = launch(ins, outs, ws, dims, torch.cuda.current_stream().cuda_stream)
            if status != 0:
                raise RuntimeError(f"launch returned {status}")

        run._keep = (inputs, outputs, workspace)  # keep the buffers alive as long as the launcher
        return run


# --- timing ----------------------------------------------------------------------------------------------------------
def graph_time_us(fn, calls: int, replays: int = REPLAYS) -> dict:
    """GPU µs per call: `calls` calls captured in one CUDA graph, replayed; median of `replays` replays / calls."""
    import torch

    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture (module loads, allocator, autotuning)
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0 / calls)
    del graph
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    return {"us": statistics.median(times), "min": min(times), "max": max(times), "calls": calls}


def event_time_us(fn, calls: int, replays: int = REPLAYS) -> dict:
    """Fallback when a contender cannot be captured in a graph: events around `calls` plain calls, median."""
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(calls):
            fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0 / calls)
    return {"us": statistics.median(times), "min": min(times), "max": max(times), "calls": calls, "graph": False}


def time_contender(row: dict, key: str, fn, calls: int) -> None:
    """row[key] = GPU time per call (CUDA graph; plain event timing if capture fails, noted) + wall time per call."""
    import torch

    try:
        row[key] = graph_time_us(fn, calls)
    except Exception as exc:
        row["notes"].append(f"{key}: CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:160]}); "
                            "timed as plain launches between events")
        torch.cuda.synchronize()
        row[key] = event_time_us(fn, calls)
    row[key]["wall_us"] = wall_time_us(fn, calls)


def wall_time_us(fn, n: int) -> float:
    """Host wall time per call of n plain calls followed by one synchronize (launch overhead shows here)."""
    import torch

    fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1e6 / n


def copy_bandwidth(nbytes: int = 1 << 30) -> dict:
    """Bytes read + written per second of a copy over large buffers (the DRAM roofline's bandwidth).

    Four ways, the fastest wins: ``dst.copy_(src)`` captured in a graph (a graph memcpy node, which may go to the
    copy engines: 2.4 TB/s on an H100, first run) and as plain launches, and an elementwise kernel that reads and
    writes the same bytes (``torch.neg(src, out=dst)``), graphed and plain.
    """
    import torch

    src = torch.randn(nbytes // 4, device="cuda")
    dst = torch.empty_like(src)
    ways = {"copy_ graph": lambda: graph_time_us(lambda: dst.copy_(src), calls=10),
            "copy_ plain": lambda: event_time_us(lambda: dst.copy_(src), calls=10),
            "neg kernel graph": lambda: graph_time_us(lambda: torch.neg(src, out=dst), calls=10),
            "neg kernel plain": lambda: event_time_us(lambda: torch.neg(src, out=dst), calls=10)}
    variants = {}
    for name, measure in ways.items():
        try:
            variants[name] = 2 * nbytes / (measure()["us"] * 1e-6) / 1e9
        except Exception as exc:  # noqa: BLE001 - one way failing leaves the others
            log(f"  copy bandwidth by {name} failed: {exc}")
    best = max(variants, key=variants.get)
    return {"bytes": 2 * nbytes, "GBps": variants[best], "how": best, "variants": variants}


def roofline_bandwidth(rows, env) -> tuple[float, str]:
    """GB/s of the roofline: the copy's, or the best any contender reached on a case too big for L2, if higher.

    A roofline some contender beats is no roofline; taking the best streaming rate seen in the same run keeps every
    percentage <= 100 % on cases that do not fit in L2.
    """
    copy = env["copy"]
    best, source = copy["GBps"], f"copy ({copy.get('how', 'dst.copy_(src) in a CUDA graph')})"
    for r in rows:
        if r.get("status") != "ok" or r["bytes"] <= env["l2_bytes"]:
            continue
        for k in ("ours", "eager", "compile"):
            t = r.get(k, {}).get("us")
            if t and r["bytes"] / (t * 1e-6) / 1e9 > best:
                best, source = r["bytes"] / (t * 1e-6) / 1e9, f"{k} on {r['case']}"
    return best, source


# --- one case --------------------------------------------------------------------------------------------------------
def compare(ours, ref, dtype: str, summed: int = 1) -> dict:
    """`summed`: terms each output sums. Two correct float sums of n terms differ by their order's rounding, which
    grows like sqrt(n) ulps of the partial sums: ReduceSum of (64, 64, 128, 32) over [1, 3] (2048 terms) differed
    from torch's by 3e-5 on outputs near 0, over a fixed atol of 1e-5. atol scales with sqrt(n); a wrong or
    missing term still errs by the size of a term."""
    import torch

    o, r = ours.double(), ref.double()
    rtol, atol = TOL[dtype]
    atol *= math.sqrt(max(1, summed))
    if o.shape != r.shape:
        return {"ok": False, "detail": f"shape {tuple(o.shape)} vs {tuple(r.shape)}"}
    unwritten = int((torch.isnan(o) & ~torch.isnan(r)).sum())
    diff = (o - r).abs().nan_to_num(nan=float("inf"))
    rel = float(torch.linalg.vector_norm(o - r) / torch.linalg.vector_norm(r).clamp_min(1e-30))
    ok = bool(torch.allclose(o, r, rtol=rtol, atol=atol)) and unwritten == 0
    detail = "" if ok else (f"{unwritten} elements not written (NaN poison)" if unwritten else
                            f"max abs err {float(diff.max()):.3g} over rtol={rtol}, atol={atol}")
    return {"ok": ok, "max_abs": float(diff.max()), "rel_norm": rel, "detail": detail}


def compare_all(outs, ref, dtype: str, summed: int = 1) -> dict:
    """`compare` over every output the reference returns (a tuple for several; TopK's reference returns only the
    values, so its indices, which may differ on ties, are not compared)."""
    refs = list(ref) if isinstance(ref, (tuple, list)) else [ref]
    checks = [compare(o, r, dtype, summed) for o, r in zip(outs, refs)]
    bad = [c for c in checks if not c["ok"]]
    worst = max(checks, key=lambda c: c.get("rel_norm", 0.0))
    return bad[0] if bad else worst


def _poisoned(case, dev):
    import torch

    def empty(d, s):
        dt = getattr(torch, d)
        return torch.full(s, float("nan"), dtype=dt, device=dev) if dt.is_floating_point else \
            torch.full(s, -12345, dtype=dt, device=dev)

    return [empty(d, s) for _, s, d in case.outputs]


def _launcher(prebuilt: Path, entry: dict, plugin: str, dims, inputs, outputs, dev, row: dict, key: str):
    """(kernels, a no-argument launch of them) at `dims`; the workspace is allocated here."""
    import torch

    kern = Kernels(prebuilt / entry["kernels"], plugin, dims)
    ws_bytes = kern.workspace_bytes()
    row[f"workspace_bytes{key}"] = ws_bytes
    ws = torch.empty(max(ws_bytes, 1), dtype=torch.uint8, device=dev) if ws_bytes else None
    return kern, kern.launcher(inputs, outputs, ws)


def _kernel_rows(meta: dict) -> list[dict]:
    return [{"name": k["name"], "grid": k["grid"], "block": k["block"], "dyn_smem": k.get("dyn_smem", 0)}
            for k in meta["launch_plan"]["kernels"]]


def run_case(case, prebuilt: Path, entry: dict, opts, state: dict, values: dict | None = None,
             static: tuple[str, dict] | None = None) -> dict:
    """One row: `case` (a dynamic one at the dim `values`) by its build `entry` — the symbolic kernels for a
    dynamic case — and, with `static` ((key, entry) of its static twin), the static build of the same shape."""
    import torch

    from tpat.graph.op_inputs import make_inputs

    concrete = case.at(values) if case.dims else case
    row: dict = {"case": case.name + (f" [{case.point_name(values)}]" if case.dims else ""), "base": case.name,
                 "suite": "breadth" if case.dims else "core", "op": case.op, "shape": concrete.shape_str,
                 "dtype": case.dtype, "bytes": concrete.bytes_moved, "note": case.note, "status": "ok", "notes": [],
                 "dims": values or {}}
    work = prebuilt / case.name
    plugin = entry["plugin"]
    meta = json.loads((work / "trt_plugin" / "meta" / f"{plugin}.json").read_text())
    row["kernels"] = _kernel_rows(meta)
    dims = [values[d["name"]] for d in meta["signature"]["dims"]] if case.dims else []
    model = concrete.model()
    shapes = [s for _, s, _ in concrete.inputs]
    arrays = make_inputs(model, shapes, [d for _, _, d in concrete.inputs], seed=opts.seed)
    names = [n for n, _, _ in concrete.inputs]
    model_inputs = meta["nodes"][0]["model_inputs"]
    if model_inputs != names:
        raise RuntimeError(f"plugin inputs {model_inputs} are not the case's runtime inputs {names}")
    dev = torch.device(getattr(opts, "device", "cuda"))
    inputs = [torch.from_numpy(np.ascontiguousarray(a)).to(dev) for a in arrays]
    consts = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()).to(dev) for i in model.graph.initializer}
    eager = case.reference(consts)

    # correctness: ours (outputs poisoned with NaN) against torch eager on the same inputs
    outputs = _poisoned(concrete, dev)
    kern, ours = _launcher(prebuilt, entry, plugin, dims, inputs, outputs, dev, row, "")
    twin = None
    try:
        ours()
        torch.cuda.synchronize()
        ref = eager(*inputs)
        torch.cuda.synchronize()
        check = compare_all(outputs, ref, case.dtype, concrete.summed())
        row["check"] = check
        if not check["ok"]:
            row["status"] = "wrong"
            log(f"  WRONG {row['case']}: {check['detail']} (rel norm err {check.get('rel_norm', float('nan')):.3g})")
            return row
        calls = CALLS_BIG if concrete.bytes_moved > BIG_BYTES else CALLS_SMALL
        time_contender(row, "ours", ours, calls)
        if static is not None:  # the static build of the same shape, same inputs
            key, s_entry = static
            s_meta = json.loads((prebuilt / key / "trt_plugin" / "meta" / f"{s_entry['plugin']}.json").read_text())
            row["static_kernels"] = _kernel_rows(s_meta)
            s_outputs = _poisoned(concrete, dev)
            twin, s_launch = _launcher(prebuilt, s_entry, s_entry["plugin"], [], inputs, s_outputs, dev, row,
                                       "_static")
            s_launch()
            torch.cuda.synchronize()
            s_check = compare_all(s_outputs, ref, case.dtype, concrete.summed())
            if s_check["ok"]:
                time_contender(row, "static", s_launch, calls)
            else:
                row["notes"].append(f"static build wrong: {s_check['detail']}")
            del s_outputs
        del ref
        time_contender(row, "eager", lambda: eager(*inputs), calls)
        # torch.compile (inductor, default mode), bounded: skip it once the run's budget is nearly spent
        left = opts.budget_s - (time.perf_counter() - state["start"])
        if opts.no_compile:
            row["notes"].append("compile skipped (--no-compile)")
        elif left < opts.compile_reserve_s or state.get("compile_off"):
            row["notes"].append(f"compile skipped: run budget nearly spent ({left:.0f}s left)")
        else:
            try:
                compiled = torch.compile(eager)
                t0 = time.perf_counter()
                cref = compiled(*inputs)
                torch.cuda.synchronize()
                row["compile_seconds"] = time.perf_counter() - t0
                cchk = compare_all(cref if isinstance(cref, (tuple, list)) else [cref], eager(*inputs), case.dtype,
                                   concrete.summed())
                del cref
                if not cchk["ok"]:
                    row["notes"].append(f"torch.compile output differs from eager: {cchk['detail']}")
                time_contender(row, "compile", lambda: compiled(*inputs), calls)
                if row["compile_seconds"] > opts.compile_limit_s:
                    row["notes"].append(f"torch.compile took {row['compile_seconds']:.0f}s")
            except Exception as exc:  # compile failing is reported, ours/eager stand
                row["notes"].append(f"torch.compile failed: {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                torch._dynamo.reset()
    finally:
        kern.close()
        if twin is not None:
            twin.close()
    return row


def _jobs(cases):
    """(case, dim values) to time: a core case once, a dynamic case at each of its points."""
    for case in cases:
        for values in (case.run_points() if case.dims else [{}]):
            yield case, values


# --- report ----------------------------------------------------------------------------------------------------------
def _geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def l2_level(nbytes: int, l2_bytes: int) -> str:
    """'yes': the working set fits in half of L2 and stays there across calls (the DRAM roofline is no bound);
    '~': it fits in L2 only nominally (on an H100 such 50 MB sets still stream from DRAM: measured, not assumed);
    '': it does not fit."""
    return "yes" if nbytes <= l2_bytes // 2 else "~" if nbytes <= l2_bytes else ""


def finish_rows(rows, env) -> None:
    bw, source = roofline_bandwidth(rows, env)
    env["roofline_GBps"], env["roofline_source"] = bw, source
    for r in rows:
        r["roofline_us"] = r["bytes"] / (bw * 1e9) * 1e6
        r["l2"] = l2_level(r["bytes"], env["l2_bytes"])
        r["l2_resident"] = r["l2"] == "yes"
        o = r.get("ours", {}).get("us")
        e = r.get("eager", {}).get("us")
        c = r.get("compile", {}).get("us")
        r["vs_eager"] = e / o if o and e else None
        r["vs_compile"] = c / o if o and c else None
        r["pct_roofline"] = None if r["l2_resident"] or not o else 100.0 * r["roofline_us"] / o


def _pct(r) -> str:
    if r["l2"] == "yes":
        return "n/a (L2)"
    if r["pct_roofline"] is None:
        return "—"
    if r["pct_roofline"] > 100:
        return "> 100 % (L2 hits)"
    return f"({r['pct_roofline']:.0f} %)" if r["l2"] == "~" else f"{r['pct_roofline']:.0f} %"


def _sym_mark(r) -> str:
    """Beside the static build's time: how the symbolic kernels compare (× static; ! past the 10 % target)."""
    ratio = targets.sym_vs_static(r)
    if ratio is None:
        return ""
    slower = 1 / ratio
    return f" ({slower:.2f}×{'!' if slower > targets.SYMBOLIC_SLACK else ''})"


def _f(x, fmt="{:.1f}"):
    return "—" if x is None else fmt.format(x)


def tuned_kernels(entry: dict) -> bool:
    """Whether a prebuilt case runs tuned kernels: records applied and at least one kept over the default."""
    tuning = entry.get("tuning")
    if not tuning:
        return False
    kernels = tuning.get("kernels")
    return True if kernels is None else any(k.get("kept", True) for k in kernels.values())


def _kernels_note(rows) -> str:
    if any(r.get("tuned") for r in rows):
        return ("Our kernels: tpat's default schedules (its rules in `tpat/schedules`, then dlight's); † = "
                "meta_schedule-tuned (H100 records, 64 trials), kept because they measured faster than the default.")
    return "Our kernels are untuned: tpat's default schedules (its rules in `tpat/schedules`, then dlight's)."


def markdown(rows, env) -> str:
    copy = env["copy"]
    ways = ", ".join(f"{k} {v:.0f}" for k, v in copy.get("variants", {}).items()) or copy.get("how", "copy_")
    lines = [f"# tpat kernels vs torch — {env['device']}", "",
             f"{env['date']} · torch {env['torch']} (CUDA {env['cuda']}) · driver {env['driver']} · "
             f"{env['sms']} SMs · L2 {env['l2_bytes'] / 1e6:.1f} MB", "",
             f"Roofline bandwidth **{env['roofline_GBps']:.0f} GB/s** ({env['roofline_source']}); copy of "
             f"{copy['bytes'] / 2**30:.0f} GiB read+written: {copy['GBps']:.0f} GB/s ({ways} GB/s).", "",
             f"GPU time per call (µs): CUDA graph of {CALLS_BIG} calls (cases moving > {BIG_BYTES >> 20} MiB) or "
             f"{CALLS_SMALL} calls, median of {REPLAYS} replays; wall µs: host time per call of the same number of "
             "plain calls and one sync. `vs` = contender time / ours (> 1: ours faster). Roofline = bytes moved "
             "(inputs read once, outputs written once) / roofline bandwidth. L2 `yes`: the working set fits in half "
             "of L2 and stays there across calls: the DRAM roofline is no bound, no % given; `~`: it fits in L2 "
             "only nominally (% in parentheses). " + _kernels_note(rows) + " Breadth rows (`case [dims]`): "
             "`ours` is the symbolic build (dims declared dynamic, one kernel for the range) at those dims, "
             "`static` the static build of the same shape (in parentheses: symbolic time / static time).", "",
             "| case | shape | dtype | ours µs | static µs | eager µs | compile µs | roofline µs | vs eager "
             "| vs compile | % roofline | L2 | wall µs ours / eager / compile | rel err | why it loses |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---|"]
    for r in rows:
        if r["status"] != "ok":
            why = r.get("check", {}).get("detail") or r.get("error", "")
            lines.append(f"| {r['case']} | {r['shape']} | {r['dtype']} | **{r['status'].upper()}** | | "
                         f"{_f(r.get('eager', {}).get('us'))} | | {_f(r.get('roofline_us'))} | | | | "
                         f"{r.get('l2', '')} | | {why[:120]} | {targets.reason(r)} |")
            continue
        walls = " / ".join(_f(r.get(k, {}).get("wall_us")) for k in ("ours", "eager", "compile"))
        pct = _pct(r)
        name = r["case"] + (" †" if r.get("tuned") else "")
        static = r.get("static", {}).get("us")
        loses = r["vs_compile"] is not None and r["vs_compile"] < 1.0
        lines.append(f"| {name} | {r['shape']} | {r['dtype']} | {_f(r['ours']['us'])} | "
                     f"{_f(static)}{_sym_mark(r)} | "
                     f"{_f(r['eager']['us'])} | {_f(r.get('compile', {}).get('us'))} | {_f(r['roofline_us'])} | "
                     f"{_f(r['vs_eager'], '{:.2f}×')} | {_f(r['vs_compile'], '{:.2f}×')} | {pct} | "
                     f"{r['l2']} | {walls} | {r['check']['rel_norm']:.1e} | "
                     f"{(targets.reason(r) or 'not yet explained') if loses else ''} |")
    ok = [r for r in rows if r["status"] == "ok"]
    ge, gc = _geomean([r["vs_eager"] for r in ok]), _geomean([r["vs_compile"] for r in ok])
    dram = [r for r in ok if r["l2"] == ""]
    gp = _geomean([r["pct_roofline"] for r in dram])
    lines += ["", f"**Geomean speedup** over {len(ok)} correct cases: vs eager {_f(ge, '{:.2f}×')}, "
                  f"vs torch.compile {_f(gc, '{:.2f}×')} (over the {sum(1 for r in ok if r['vs_compile'])} with a "
                  f"compile time); geomean % of DRAM roofline over the {len(dram)} DRAM-bound cases: "
                  f"{_f(gp, '{:.0f} %')}."]
    suites = sorted({r.get("suite", "core") for r in ok})
    if len(suites) > 1:
        for suite in suites:
            part = [r for r in ok if r.get("suite", "core") == suite]
            lines.append(f"{suite}: {len(part)} rows, vs eager "
                         f"{_f(_geomean([r['vs_eager'] for r in part]), '{:.2f}×')}, vs torch.compile "
                         f"{_f(_geomean([r['vs_compile'] for r in part]), '{:.2f}×')}.")
    if any(r.get("suite") == "breadth" for r in rows):
        lines += targets.markdown(rows)
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        lines += ["", "**Not timed:** " + "; ".join(
            f"{r['case']} ({r['status']}: {(r.get('check', {}).get('detail') or r.get('error', ''))[:200]})"
            for r in bad)]
    notes = [f"- {n}" for n in env.get("notes", [])]
    notes += [f"- {r['case']}: {n}" for r in rows for n in r.get("notes", [])]
    by_note: dict[str, list[str]] = {}
    for r in rows:
        if r.get("note"):
            by_note.setdefault(r["note"], []).append(r["case"])
    notes += [f"- {', '.join(names)}: {note}" for note, names in by_note.items()]
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", "Our kernels (launch plan from meta/*.json: grid × block, dynamic shared memory):", ""]
    for r in rows:
        ks = "; ".join(f"{k['name']} {'×'.join(map(str, k['grid']))} × {'×'.join(map(str, k['block']))}"
                       + (f" smem {k['dyn_smem']}" if k.get("dyn_smem") else "") for k in r.get("kernels", []))
        lines.append(f"- {r['case']}: {ks}")
    return "\n".join(lines) + "\n"


def short_table(rows) -> str:
    out = [f"{'case':40s} {'dtype':5s} {'ours':>8s} {'static':>8s} {'eager':>8s} {'compile':>8s} {'roof':>8s} "
           f"{'xEager':>7s} {'xComp':>6s} {'%roof':>9s}"]
    for r in rows:
        if r["status"] != "ok":
            out.append(f"{r['case']:40s} {r['dtype']:5s} {r['status'].upper()}: "
                       f"{(r.get('check', {}).get('detail') or r.get('error', ''))[:70]}")
            continue
        pct = "L2" if r["l2_resident"] else _f(r["pct_roofline"], "{:.0f}%") + ("~" if r["l2"] == "~" else "")
        out.append(f"{r['case']:40s} {r['dtype']:5s} {_f(r['ours']['us']):>8s} "
                   f"{_f(r.get('static', {}).get('us')):>8s} {_f(r['eager']['us']):>8s} "
                   f"{_f(r.get('compile', {}).get('us')):>8s} {_f(r['roofline_us']):>8s} "
                   f"{_f(r['vs_eager'], '{:.2f}'):>7s} {_f(r['vs_compile'], '{:.2f}'):>6s} {pct:>9s}")
    ok = [r for r in rows if r["status"] == "ok"]
    out.append(f"geomean speedup vs eager {_f(_geomean([r['vs_eager'] for r in ok]), '{:.2f}')}, "
               f"vs compile {_f(_geomean([r['vs_compile'] for r in ok]), '{:.2f}')}")
    return "\n".join(out)


def environment() -> dict:
    import torch

    props = torch.cuda.get_device_properties(0)
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "-i", "0"],
                                capture_output=True, text=True, timeout=20).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        driver = "?"
    return {"device": props.name, "sms": props.multi_processor_count,
            "l2_bytes": int(getattr(props, "L2_cache_size", 50 * 10**6)), "torch": torch.__version__,
            "cuda": torch.version.cuda, "driver": driver,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": sys.version.split()[0]}


def write_outputs(out: Path, rows, env) -> None:
    out.mkdir(parents=True, exist_ok=True)
    finish_rows(rows, env)
    (out / "results.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1, default=str) + "\n")
    (out / "results.md").write_text(markdown(rows, env))


def _plot(out: Path) -> None:
    try:
        from benchmarks.plot import plot

        plot(out / "results.json", out / "results.png")
    except ImportError as exc:
        log(f"plot skipped ({exc}): run `python3 benchmarks/plot.py {out / 'results.json'}` where matplotlib is")
    except Exception as exc:  # noqa: BLE001 - the tables matter more than the picture
        log(f"plot failed: {type(exc).__name__}: {exc}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prebuilt", type=Path, help="what benchmarks/prebuild.py wrote")
    ap.add_argument("--rescore", type=Path, metavar="RESULTS_JSON",
                    help="no GPU: re-render a results.json (roofline, tables, plot) into --out, timings unchanged")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--cases", nargs="*", default=None, help="case names or prefixes (default: all prebuilt)")
    ap.add_argument("--suite", default="core", choices=("core", "breadth", "all"),
                    help="core: the 20 fixed-shape cases; breadth: benchmarks/cases_breadth.py in dynamic mode "
                    "(symbolic kernels at each point, beside their static twins); all: both, in one run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--budget-s", type=float, default=400.0,
                    help="whole-run budget: torch.compile is skipped for the remaining cases near its end")
    ap.add_argument("--compile-reserve-s", type=float, default=60.0,
                    help="skip compiling a case when less than this is left of --budget-s")
    ap.add_argument("--compile-limit-s", type=float, default=60.0, help="note a compile slower than this")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows --out/results.json already has (same device session: one GPU command is "
                    "limited to 10 minutes) and time only the rest; skipped and failed rows are retried")
    opts = ap.parse_args(argv)
    state = {"start": time.perf_counter()}
    if opts.rescore:
        data = json.loads(opts.rescore.read_text())
        rows, env = data["rows"], data["env"]
        if opts.prebuilt is not None:  # the build that ran: which cases ran tuned kernels
            cases = json.loads((opts.prebuilt / "prebuilt.json").read_text())["cases"]
            for r in rows:
                r["tuned"] = tuned_kernels(cases.get(r["case"], {}))
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
        note = (f"re-rendered with --rescore on {stamp} from this run's timings (roofline rule and table layout of "
                "the current run.py; no timing changed)")
        env["notes"] = [n for n in env.get("notes", []) if not n.startswith("re-rendered")] + [note]
        write_outputs(opts.out, rows, env)
        _plot(opts.out)
        log(short_table(rows))
        return 0
    if opts.prebuilt is None:
        ap.error("--prebuilt is required (or --rescore)")

    import torch

    if not torch.cuda.is_available():
        log("no CUDA device: nothing to time")
        return 2
    prebuilt = opts.prebuilt.resolve()
    manifest = json.loads((prebuilt / "prebuilt.json").read_text())
    done: dict[str, dict] = {}
    previous = opts.out / "results.json"
    if opts.resume and previous.is_file():  # the rows a cut-short command left (same machine, same session)
        data = json.loads(previous.read_text())
        env = data["env"]
        done = {r["case"]: r for r in data["rows"] if r.get("status") in ("ok", "wrong", "not built")}
        env.setdefault("notes", []).append(f"resumed: {len(done)} rows kept from an earlier command of this run")
    else:
        env = environment()
        env["copy"] = copy_bandwidth()
    env["prebuilt_failed"] = manifest.get("failed", {})
    log(f"{env['device']} · torch {env['torch']} CUDA {env['cuda']} · L2 {env['l2_bytes'] / 1e6:.0f} MB · "
        f"copy {env['copy']['GBps']:.0f} GB/s")
    rows = []
    for case, values in _jobs(select(opts.cases, opts.suite)):
        name = case.name + (f" [{case.point_name(values)}]" if case.dims else "")
        if name in done:
            rows.append(done[name])
            continue
        entry = manifest["cases"].get(case.name)
        base = {"case": name, "base": case.name, "suite": "breadth" if case.dims else "core", "op": case.op,
                "shape": (case.at(values) if case.dims else case).shape_str, "dtype": case.dtype,
                "bytes": (case.at(values) if case.dims else case).bytes_moved, "notes": [], "dims": values}
        if entry is None:
            why = manifest.get("failed", {}).get(case.name, "not prebuilt")
            rows.append({**base, "status": "not built", "error": why})
            log(f"  skip {name}: {why}")
            continue
        if time.perf_counter() - state["start"] > opts.budget_s + 30:
            rows.append({**base, "status": "skipped", "error": "run budget spent"})
            log(f"  skip {name}: run budget spent")
            continue
        static = None
        if case.dims:
            key = variant_key(case, values)
            if key in manifest["cases"]:
                static = (key, manifest["cases"][key])
        t0 = time.perf_counter()
        try:
            row = run_case(case, prebuilt, entry, opts, state, values if case.dims else None, static)
        except Exception as exc:  # one failing case is reported, the others go on
            traceback.print_exc(limit=4)
            row = {**base, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
        try:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()  # the case's tensors died with run_case
        except Exception as exc2:  # a sticky CUDA error (illegal address...): the rest cannot run
            log(f"  CUDA context lost after {name}: {exc2}")
            row["status"] = "error"
            row.setdefault("error", f"CUDA context lost: {exc2}")
            rows.append(row)
            write_outputs(opts.out, rows, env)
            break
        row["seconds"] = time.perf_counter() - t0
        row["tuned"] = tuned_kernels(entry)
        rows.append(row)
        o, e, c, st = (row.get(k, {}).get("us") for k in ("ours", "eager", "compile", "static"))
        log(f"  {name:40s} {row['status']:6s} ours {_f(o)} static {_f(st)} eager {_f(e)} compile {_f(c)} µs "
            f"({row['seconds']:.0f}s)")
        write_outputs(opts.out, rows, env)  # after every case: a run cut short still leaves its results
    write_outputs(opts.out, rows, env)
    _plot(opts.out)
    log(f"\nwrote {opts.out}/results.md|json; {time.perf_counter() - state['start']:.0f}s in all\n")
    log(short_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
