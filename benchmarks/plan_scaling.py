"""Planning time against the number of targets: a model of N independent Erf nodes, every one of them a target.

    PYTHONPATH=. python3 benchmarks/plan_scaling.py                 # 300, 1000 and 3000 targets, side by side
    PYTHONPATH=. python3 benchmarks/plan_scaling.py 300 1000 --profile 1000   # + cProfile's top entries at 1000

Each size is planned the way `tpat plan` plans it (spec file -> `make_plan`), in a fresh temp folder, so the
figures include reading the model, shape inference, selection, extraction of every target and the task keys.
Planning should grow linearly with the targets: each target is cut out of one shared index of the model, not
out of a fresh import of the whole graph.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = (300, 1000, 3000)


def erf_model(n: int, width: int = 64):
    """x_i[batch, width] -> Erf -> y_i, for i < n: n targets that all extract to the same subgraph."""
    import onnx
    from onnx import TensorProto
    from onnx import helper as h

    nodes = [h.make_node("Erf", [f"x{i}"], [f"y{i}"], name=f"erf_{i}") for i in range(n)]
    inputs = [h.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, ["batch", width]) for i in range(n)]
    outputs = [h.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["batch", width]) for i in range(n)]
    model = h.make_model(h.make_graph(nodes, f"erf_x{n}", inputs, outputs),
                         opset_imports=[h.make_opsetid("", 17)], producer_name="tpat-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_case(folder: Path, n: int) -> Path:
    import onnx
    import yaml

    onnx.save(erf_model(n), folder / "model.onnx")
    spec = {"version": 1, "output_dir": "out", "cache_dir": str(folder / "cache"),
            "defaults": {"arch": ["sm_90"], "validate": False,
                         "dynamic": {"batch": {"min": 1, "opt": 64, "max": 256}}},
            "models": [{"path": "model.onnx", "targets": {"op_types": ["Erf"]}}]}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return folder / "spec.yaml"


def plan_seconds(n: int, profile: bool = False) -> tuple[float, int]:
    """(wall seconds of planning, targets planned)."""
    from tpat.workflow import load_resolved, make_plan

    with tempfile.TemporaryDirectory(prefix="tpat-plan-scaling-") as tmp:
        spec = write_case(Path(tmp), n)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start = time.perf_counter()
        plan, _ = make_plan(load_resolved(spec))
        seconds = time.perf_counter() - start
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        (mp,) = plan.models
        if mp.error:
            raise SystemExit(f"planning {n} targets failed: {mp.error}")
        return seconds, len(mp.nodes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sizes", nargs="*", type=int, default=list(SIZES),
                    help="numbers of targets (default 300 1000 3000)")
    ap.add_argument("--profile", type=int, default=None, help="print cProfile's top entries for this size")
    args = ap.parse_args(argv)
    plan_seconds(10)  # warm up imports (onnx, graphsurgeon, the tpat code digest) outside the figures
    rows = []
    for n in args.sizes:
        seconds, planned = plan_seconds(n, profile=n == args.profile)
        rows.append((n, planned, seconds))
        print(f"{n:>6} targets: {seconds:8.2f} s  ({1000 * seconds / n:.2f} ms per target)", flush=True)
    print("\n| targets | planned | seconds | ms per target |\n|---:|---:|---:|---:|")
    for n, planned, seconds in rows:
        print(f"| {n} | {planned} | {seconds:.2f} | {1000 * seconds / n:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
