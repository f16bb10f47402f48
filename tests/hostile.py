"""Hostile text a model can carry, and how tests look for it in generated C++."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# Each would be code if printed raw: a preprocessor line, a declaration after a closed literal, a line splice.
HOSTILE = [
    "b\n#error injected through a dim name\n//",
    'n"; int tpat_injected = 1; //',
    "trailing backslash \\",
    "*/ /* ??/ \u2028 \U0001F600 \r\n#error crlf",
    "nul \x00 and bell \x07",
]


def symbols(so: Path) -> str:
    return subprocess.run(["nm", "-D", str(so)], capture_output=True, text=True, check=True).stdout


def code_lines(text: str) -> list[str]:
    """Each line with its string literals and `//` comment cut out: model text may only live in those."""
    lines = []
    for ln in text.splitlines():
        ln = re.sub(r'"(?:\\.|[^"\\])*"', '""', ln)
        lines.append(ln.split("//", 1)[0].strip())
    return lines
