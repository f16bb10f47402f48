"""Loading and writing models with errors a user can act on; the input file is only ever read.

Models are loaded without their external data: a model over 2 GB keeps its weights in files beside it, and no
stage needs them in memory (extraction reads the few constants it bakes into a plugin; the rewrite copies the rest
file to file). So models are checked by path, which is how onnx.checker handles models over 2 GB and finds
their data files.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from ..errors import ModelError


def load_model(path: str | Path) -> onnx.ModelProto:
    """The model's graph; tensors stored in external data files stay there (see `model_index`)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file {str(p)!r} does not exist", hint="check the path (-i / models[].path)")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"cannot read {str(p)!r} as an ONNX model: {str(exc).splitlines()[0][:300]}",
                         hint="the file is corrupt or not ONNX; re-export it") from exc
    if not model.graph.node:
        raise ModelError(f"model {str(p)!r} has no nodes", hint="is this the right file?")
    check_model_file(p, f"model {str(p)!r}", "fix the model first (tpat never edits the input model)")
    return model


def check_model(model: onnx.ModelProto, what: str, hint: str) -> None:
    """onnx.checker with its first line of complaint turned into a ModelError naming `what`."""
    _checked(lambda: onnx.checker.check_model(model), what, hint)


def check_model_file(path: Path, what: str, hint: str) -> None:
    """onnx.checker on the file: no 2 GB limit, external data located relative to the file."""
    _checked(lambda: onnx.checker.check_model(str(path)), what, hint)


def _checked(run, what: str, hint: str) -> None:
    try:
        run()
    except Exception as exc:
        raise ModelError(f"{what} fails onnx.checker: {str(exc).splitlines()[0][:300]}", hint=hint) from exc


def save_model(model: onnx.ModelProto, path: str | Path, source: str | Path) -> None:
    """Check and write a model derived from the model file `source`, atomically. Tensors `source` keeps in
    external data files go to `<path>.data`, located relative to `path` (see `external_data`)."""
    from ..fsutil import atomic_write_bytes
    from .external_data import external_tensors, write_model_with_data

    what, hint = "the rewritten model", "this is a tpat bug; please report it with the model"
    try:
        if not external_tensors(model):
            check_model(model, what, hint)
            atomic_write_bytes(Path(path), model.SerializeToString())
        else:
            write_model_with_data(model, Path(path), Path(source).parent, lambda p: check_model_file(p, what, hint))
    except OSError as exc:  # a full disk or an unwritable folder: a 2 GB model makes both likelier
        where = f" ({exc.filename})" if exc.filename else ""
        raise ModelError(f"cannot write the model {str(path)!r}: {exc.strerror or exc}{where}",
                         hint="the output folder must be writable, with room for the model and its data") from exc
