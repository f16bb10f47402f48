"""Unit tests: no TVM, no nvcc, fast (`python3 -m pytest -q tests/unit`, well under 30 s).

A session that ran only unit tests fails if TVM was imported: a test that lowers (and so builds) belongs in
tests/integration.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_sessionfinish(session, exitstatus):
    items = getattr(session, "items", [])
    only_unit = items and all(Path(str(item.fspath)).resolve().is_relative_to(HERE) for item in items)
    if only_unit and any(m == "tvm" or m.startswith("tvm.") for m in sys.modules):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nerror: a unit test imported TVM; move it to tests/integration", file=sys.stderr)
