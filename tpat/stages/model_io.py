"""Loading models with errors a user can act on; the input file is only ever read."""

from __future__ import annotations

from pathlib import Path

import onnx

from ..errors import ModelError


def load_model(path: str | Path) -> onnx.ModelProto:
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file {str(p)!r} does not exist", hint="check the path (-i / models[].path)")
    try:
        model = onnx.load(str(p), load_external_data=True)
    except Exception as exc:
        raise ModelError(f"cannot read {str(p)!r} as an ONNX model: {str(exc).splitlines()[0][:300]}",
                         hint="the file is corrupt or not ONNX; re-export it") from exc
    if not model.graph.node:
        raise ModelError(f"model {str(p)!r} has no nodes", hint="is this the right file?")
    check_model(model, f"model {str(p)!r}", "fix the model first (tpat never edits the input model)")
    return model


def check_model(model: onnx.ModelProto, what: str, hint: str) -> None:
    """onnx.checker with its first line of complaint turned into a ModelError naming `what`."""
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelError(f"{what} fails onnx.checker: {str(exc).splitlines()[0][:300]}", hint=hint) from exc


def save_model_atomic(model: onnx.ModelProto, path: str | Path) -> None:
    """Write to a temp file beside the target and rename, so a crash never leaves a half-written model."""
    from ..fsutil import atomic_write_bytes

    atomic_write_bytes(Path(path), model.SerializeToString())
