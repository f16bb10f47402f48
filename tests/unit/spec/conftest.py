"""Helpers for spec tests: write a spec (and empty model files) into a temp folder and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tpat.errors import SpecError
from tpat.spec import load_spec, resolve_spec


@pytest.fixture
def write_spec(tmp_path: Path):
    """write_spec(yaml_text, models=("m.onnx",)) -> path of config.yaml; the model files are created empty."""

    def write(text: str, models: tuple[str, ...] = ("m.onnx",)) -> Path:
        for name in models:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(b"")
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def spec_errors(write_spec):
    """spec_errors(yaml_text) -> the SpecError raised by loading *and resolving* it (fails if none is)."""

    def errors(text: str, models: tuple[str, ...] = ("m.onnx",)) -> SpecError:
        path = write_spec(text, models)
        with pytest.raises(SpecError) as info:
            resolve_spec(load_spec(path), environ={})
        return info.value

    return errors
