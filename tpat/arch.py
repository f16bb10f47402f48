"""CUDA archs (`sm_90`, `sm_90a`, `sm_100`): their one spelling, and their order by compute capability.

Archs are ordered by number, never as strings: ``min(("sm_90", "sm_100"))`` is ``"sm_100"``, which would lower
the kernels for the newest GPU of a list while the CUDA source must run on all of them. Every place that needs
"the oldest arch" or "the archs in order" asks this module.
"""

from __future__ import annotations

import re
from typing import Iterable

ARCH_PATTERN = r"^sm_\d{2,3}a?$"
_ARCH = re.compile(r"^sm_(\d{2,3})(a?)$")
DEFAULT_ARCH = ("sm_90",)


def parse(arch: str) -> tuple[int, str]:
    """(compute capability as a number, 'a' or ''): sm_90 -> (90, ''), sm_90a -> (90, 'a'), sm_100 -> (100, '')."""
    m = _ARCH.match(arch)
    if not m:
        raise ValueError(f"invalid CUDA arch {arch!r}: use the form sm_80, sm_90, sm_90a")
    return int(m.group(1)), m.group(2)


def sort_archs(archs: Iterable[str]) -> tuple[str, ...]:
    """Oldest first (sm_90 < sm_90a < sm_100), repeats dropped: SASS for each, PTX for the last."""
    return tuple(sorted(set(archs), key=parse))


def oldest(archs: Iterable[str]) -> str:
    """The arch kernels are lowered for: CUDA code generated for it also runs on every newer arch of the list."""
    return sort_archs(archs)[0]
