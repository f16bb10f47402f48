"""`tpat apply config.yaml`: run every task of the plan (cached by content), place outputs, write the manifest."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("apply", help="convert the models of a spec (cached, parallel, with a manifest)",
                       description=__doc__)
    p.add_argument("spec", type=Path, help="the YAML spec (see docs/spec.md)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="plugins built in parallel (default: executor.jobs); Dask's local cluster: CPU workers")
    p.add_argument("--frozen", action="store_true",
                   help="rebuild from tpat.lock.yaml and fail on any drift (inputs, versions, artefact bytes)")
    p.add_argument("--executor", choices=("local", "dask"), default=None,
                   help="where tasks run (default: the spec's executor.kind): local processes, or a Dask cluster "
                        "(tpat[dask]; docs/dask.md)")
    p.add_argument("--scheduler-address", default=None, metavar="ADDRESS",
                   help="the Dask scheduler (tcp://host:8786), implies --executor dask; default: the spec's "
                        "executor.address, else a local cluster (-j CPU workers, one worker per visible GPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.add_argument("--check-trt", action="store_true",
                   help="for every model: TensorRT-RTX parses the rewritten model and builds an engine (CPU only)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..workflow import apply_spec
    from .summary import print_apply_summary

    if args.jobs is not None and args.jobs < 1:
        from ..errors import TpatError

        raise TpatError(f"-j must be at least 1, got {args.jobs}")
    result = apply_spec(args.spec, jobs=args.jobs, frozen=args.frozen, progress=not args.no_progress,
                        check_trt=args.check_trt, executor=args.executor, scheduler_address=args.scheduler_address)
    print_apply_summary(result)
    bugs = [c for c in result.chains.values() if c.internal]
    if bugs:  # a bug is not a model tpat cannot convert: say so, and exit 70 like any other bug
        from .main import EXIT_BUG, report_bug

        for c in bugs:
            report_bug(f"{c.failed_stage} of plugin {c.plugin}: {c.error}", c.traceback or "",
                       sys.argv[1:], args.verbose)
        return EXIT_BUG
    return 1 if result.failed_models else 0
