"""Where the task cache is when nothing says otherwise: `$TPAT_CACHE_DIR`, else `~/.cache/tpat`. One place decides
it for the spec, the Python API and the TensorRT-RTX checker's compiled binaries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

ENV_VAR = "TPAT_CACHE_DIR"
DEFAULT = "~/.cache/tpat"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$TPAT_CACHE_DIR` (relative to the current folder, `~` expanded), else ~/.cache/tpat."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(os.path.normpath(Path.cwd() / os.path.expanduser(environ[ENV_VAR])))
    return Path(os.path.expanduser(DEFAULT))
