"""Building specs and small models on disk for the workflow tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import yaml
from onnx import TensorProto as T
from onnx import helper as h

import op_models

ROOT = Path(__file__).resolve().parent.parent


def erf_model(width: int, name: str = "erf") -> onnx.ModelProto:
    return op_models._model(h.make_node("Erf", ["x"], ["y"], name=name), [op_models._vi("x", T.FLOAT, ["batch", width])],
                            [op_models._vi("y", T.FLOAT, ["batch", width])])


def write_spec(folder: Path, models: dict[str, onnx.ModelProto | bytes], targets: dict, cache: Path,
               **extra) -> Path:
    """models: file name -> model (or raw bytes for a broken file); one spec entry per model, same targets."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for fname, model in models.items():
        path = folder / fname
        path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
        entries.append({"path": fname, "targets": targets})
    spec = {"version": 1, "output_dir": "out", "cache_dir": str(cache),
            "executor": {"kind": "local", "jobs": extra.pop("jobs", 1)},
            "defaults": {"arch": ["sm_90"], "dynamic": {"batch": {"min": 1, "opt": 8, "max": 64}},
                         **extra.pop("defaults", {})},
            "models": entries, **extra}
    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path


def tpat_cli(*args: str, cwd: Path | None = None, timeout: int = 600, env_cache: str | None = None,
             umask: int | None = None) -> subprocess.CompletedProcess:
    """`tpat ARGS` in a child process; `env_cache` sets TPAT_CACHE_DIR, `umask` the child's umask."""
    import os

    env = dict(os.environ, **({"TPAT_CACHE_DIR": env_cache} if env_cache else {}))
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "tpat.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=preexec)
