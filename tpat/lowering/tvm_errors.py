"""What went wrong inside TVM, said in one line, and whose fault it was.

TVM's errors are long: a C++ check message, then the pass, then pages of TVMScript with a note that lines were
skipped; Python errors from its frontend are often bare (`AssertionError`, `KeyError: 'num_heads'`). A user
needs the check that failed, the pass it failed in, or the line of TVM that gave up -- never "(... 38 lines
skipped ...)". And an exception raised by tpat's own code on the way (a launch-plan reader meeting IR it does not
know) is not TVM's limitation but a bug in tpat: it must surface as one (exit 70), not as "TVM could not lower".
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

_TPAT = Path(__file__).resolve().parent.parent  # the tpat package
_CHECK = re.compile(r"Check failed: (\(.*?\) is false: )?(?P<what>.+)")
_PASS = re.compile(r"Error in pass: (?P<name>\S+)")
_NOISE = re.compile(r"^\s*(\(\.\.\. \d+ lines skipped \.\.\.\)|\^+|#.*|Traceback.*|File .*|Note: .*)\s*$")


def _python_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The traceback's frames in Python files (tvm-ffi appends C++ frames with other file names)."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".py")]


def raised_by_tpat(exc: BaseException) -> bool:
    """Whether the innermost Python frame (tvm-ffi's container helpers aside) is tpat's own code: then the error
    is a bug in tpat, whatever TVM object it touched."""
    frames = [f for f in _python_frames(exc) if "/tvm_ffi/" not in f.filename]
    if not frames:
        return False
    try:
        Path(frames[-1].filename).resolve().relative_to(_TPAT)
    except ValueError:
        return False
    return True


def describe(exc: BaseException, limit: int = 400) -> str:
    """One line: TVM's failed check and its pass, or the exception and the line of TVM that raised it."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
    check = next((m for m in map(_CHECK.search, lines) if m), None)
    where = next((m.group("name") for m in map(_PASS.search, lines) if m), None)
    if check is not None:
        what = check.group("what")
    elif lines and not text.startswith(("'", '"')) and len(lines[0]) > 12:
        what = lines[0]
    else:  # bare or a repr only (KeyError: 'num_heads'): the exception's type and the line that raised it
        what = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        frame = next(reversed(_python_frames(exc)), None)
        if frame is not None:
            where = f"{_short(frame.filename)}:{frame.lineno}" + (f" `{frame.line}`" if frame.line else "")
    out = what if where is None else f"{what} (in {where})"
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _short(filename: str) -> str:
    """site-packages/tvm/relax/frontend/onnx/onnx_frontend.py -> tvm/relax/frontend/onnx/onnx_frontend.py"""
    parts = Path(filename).parts
    for root in ("tvm", "tvm_ffi", "tpat"):
        if root in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(root) - 1:])
    return Path(filename).name
