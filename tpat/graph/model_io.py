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


def compose_model(model: onnx.ModelProto, path: str | Path, source: str | Path) -> dict:
    """The files that writing `model` (derived from the model file `source`) to `path` makes, composed, not
    written (`tpat.outputs.place` writes them). A model without external data is checked now and is bytes;
    tensors `source` keeps in external data files go to `<path>.data`, located relative to `path`, copied file to
    file when placed, and the model is then checked by path before it is renamed into place."""
    from ..outputs import OutputFile
    from .external_data import external_tensors, relocate, write_data

    what, hint = "the rewritten model", "this is a tpat bug; please report it with the model"
    path = Path(path)
    if not external_tensors(model):
        check_model(model, what, hint)
        return {path: OutputFile(model.SerializeToString())}
    located, pieces, data_path = relocate(model, path, Path(source).parent)
    data = located.SerializeToString()

    def write_model(dest: Path) -> None:
        _write_checked(data, dest, lambda tmp: check_model_file(tmp, what, hint))

    return {data_path: OutputFile(writer=lambda dest: _writing(dest, lambda: write_data(pieces, dest)), order=0),
            path: OutputFile(data, writer=lambda dest: _writing(dest, lambda: write_model(dest)))}


def _write_checked(data: bytes, dest: Path, check) -> None:
    """Write beside `dest`, check the temp file by path (its external data resolves as it will for `dest`),
    rename."""
    import os
    import tempfile

    from ..fsutil import default_mode, temp_tag

    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{temp_tag()}.", suffix=".tmp", dir=str(dest.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), default_mode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check(Path(tmp))
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writing(path: Path, write) -> None:
    """A full disk or an unwritable folder (a 2 GB model makes both likelier) as an error the user can act on."""
    try:
        write()
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ModelError(f"cannot write {str(path)!r}: {exc.strerror or exc}{where}",
                         hint="the output folder must be writable, with room for the model and its data") from exc


def model_digest(path: str | Path) -> str:
    """The model file's sha256 (what `sha256sum` prints) or, when it keeps tensors in external data files, a
    sha256 over its digest and theirs: a changed `.data` file is a changed model (the manifest and --frozen
    compare this)."""
    import hashlib

    from ..cache.keys import file_digest
    from .external_data import external_tensors

    path = Path(path)
    own = file_digest(path)
    try:
        tensors = external_tensors(onnx.load(str(path), load_external_data=False))
    except Exception:  # unreadable: load_model reports it properly; the file's own digest still identifies it
        return own
    locations = sorted({e.value for t in tensors for e in t.external_data if e.key == "location"})
    if not locations:
        return own
    h = hashlib.sha256(own.encode())
    for location in locations:
        data = path.parent / location
        h.update(b"\0" + location.encode() + b"\0")
        h.update((file_digest(data) if data.is_file() else "missing").encode())
    return h.hexdigest()
