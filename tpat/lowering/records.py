"""Tuning records (meta_schedule's JSON database plus tpat's tune.json verdicts): the facts about them that
planning, lowering, tuning and the outputs all need -- which files they are, which bucket they tune, which tuned
kernels lost to tpat's defaults and are dropped.
"""

from __future__ import annotations

from pathlib import Path

from ..ir.signature import Signature

RECORD_FILES = ("database_workload.json", "database_tuning_record.json")
KEEP_IF_FASTER = 0.98  # a tuned kernel replaces the default one only when it runs in at most 98 % of its time
MIN_GAIN_US = 0.25  # ... and at least this much faster: the runner times single launches, whose jitter is ~0.1 us


def keep_tuned(tuned_us: float, default_us: float | None) -> bool:
    """Whether a tuned schedule replaces tpat's default (None: the default could not be timed, keep tuned)."""
    return default_us is None or (tuned_us <= KEEP_IF_FASTER * default_us and default_us - tuned_us >= MIN_GAIN_US)


def bucket_of(sig: Signature) -> dict[str, int]:
    """The default bucket: every dynamic dim at its opt value."""
    return {d.name: d.opt for d in sig.dims}


def dropped_kernels(records_dir) -> set[str]:
    """The fused functions whose tuned schedule measured no faster than the default (from tune.json)."""
    import json

    try:
        summary = json.loads((Path(records_dir) / "tune.json").read_text())
    except (OSError, ValueError):
        return set()
    return {name for name, k in (summary.get("kernels") or {}).items() if not k.get("kept", True)}


def has_records(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in RECORD_FILES)
