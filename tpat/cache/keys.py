"""Canonical hashing for task keys (DVC's `dict_sha256`, plus the tool versions that change outputs).

A key is sha256 over canonical JSON (sorted keys, fixed separators) of the task's inputs: content hashes of the
files it reads, its settings, and the versions of tpat's own code, TVM, nvcc and the templates. Timings, absolute
paths and mtimes never enter a key. Same key => same bytes, so a key found in the cache is never rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path

SCHEMA = 1
# The modules that run tasks: the code a cached output depends on is everything they import (code_closure).
TASK_MODULES = ("tpat.executor.chain",)


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(obj) -> str:
    if isinstance(obj, bytes):
        return hashlib.sha256(obj).hexdigest()
    return hashlib.sha256(canonical(obj)).hexdigest()


def task_key(stage: str, inputs: dict) -> str:
    return digest({"schema": SCHEMA, "stage": stage, "inputs": inputs})


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def tpat_code_digest() -> str:
    """tpat's version plus a hash of every tpat module the task bodies import (directly or not), so a change to
    any code that shapes a task's output invalidates its entries, even unreleased."""
    from .._version import __version__
    from .code_closure import closure_digest

    return f"{__version__}+{closure_digest(TASK_MODULES)[:16]}"


@functools.lru_cache(maxsize=1)
def tvm_version() -> str:
    """From package metadata: planning must not import TVM (a second of start-up for a plan that runs nothing)."""
    try:
        return metadata.version("apache-tvm")
    except metadata.PackageNotFoundError:
        return _tvm_version_file() or "absent"


def _tvm_version_file() -> str | None:
    """A TVM copied in without its dist-info (the GPU machine's bundle) still has tvm/_version.py; read, not
    imported, so records tuned there carry the same keys as a pip-installed TVM of the same version."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("tvm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            text = (Path(folder) / "_version.py").read_text()
        except OSError:
            continue
        found = re.search(r"^__version__ = version = ['\"]([^'\"]+)['\"]", text, re.M)
        if found:
            return found.group(1)
    return None
