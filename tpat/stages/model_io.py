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


def external_data_files(model: onnx.ModelProto, folder: Path) -> list[Path]:
    """The files a model's external tensors live in (initializers and attribute tensors, subgraphs included),
    each once, in sorted order; locations are relative to the model's folder."""
    locations: set[str] = set()

    def visit(graph: onnx.GraphProto) -> None:
        tensors = list(graph.initializer)
        for node in graph.node:
            for a in node.attribute:
                tensors += [a.t] if a.HasField("t") else []
                tensors += list(a.tensors)
                for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    visit(g)
        for t in tensors:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                locations.update(e.value for e in t.external_data if e.key == "location")

    visit(model.graph)
    return [folder / loc for loc in sorted(locations)]


def model_digest(path: str | Path) -> str:
    """The model file's sha256 (what `sha256sum` prints) or, when it keeps tensors in external data files, a
    sha256 over its digest and theirs: a changed `.data` file is a changed model (the manifest and --frozen
    compare this)."""
    import hashlib

    from ..cache.keys import file_digest

    path = Path(path)
    own = file_digest(path)
    try:
        data_files = external_data_files(onnx.load(str(path), load_external_data=False), path.parent)
    except Exception:  # unreadable: load_model reports it properly; the file's own digest still identifies it
        return own
    if not data_files:
        return own
    h = hashlib.sha256(own.encode())
    for data in data_files:
        h.update(b"\0" + data.relative_to(path.parent).as_posix().encode() + b"\0")
        h.update((file_digest(data) if data.is_file() else "missing").encode())
    return h.hexdigest()
