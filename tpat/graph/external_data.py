"""Writing a rewritten model whose input keeps its weights in external data files (every model over 2 GB does).

A protobuf message cannot exceed 2 GB, so such a model's weights live in files beside it, located relative to
the model file. The rewritten model keeps the same layout: each tensor the input keeps outside is copied, byte for
byte and without being loaded, into one file beside the output (`<output file name>.data`) and located relative
to the output, so the output can be written to any folder. The input's files are only ever read, and an output
that would overwrite one of them is refused.

The pieces of the new data file and the model's bytes are worked out first (`relocate`: nothing is read), the
copy happens when the outputs are placed (`write_data`), before the model is: the model file never names a
missing or half-written data file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import onnx
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from ..errors import ModelError

DATA_SUFFIX = ".data"
PAGE = 4096  # tensors of a page or more start on a page boundary, so runtimes can map them in place
CHUNK = 16 << 20  # copy in 16 MiB pieces: a 2 GB weight never sits in memory


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto of the model: initializers, sparse initializers, node attributes, in subgraphs and in
    local functions too (where external data may be)."""
    def graph_tensors(g: onnx.GraphProto):
        yield from g.initializer
        for s in g.sparse_initializer:
            yield s.values
            yield s.indices
        yield from node_tensors(g.node)

    def node_tensors(nodes):
        for n in nodes:
            for a in n.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors
                if a.HasField("g"):
                    yield from graph_tensors(a.g)
                for g in a.graphs:
                    yield from graph_tensors(g)

    yield from graph_tensors(model.graph)
    for f in model.functions:
        yield from node_tensors(f.node)


def external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in all_tensors(model) if uses_external_data(t)]


def data_path_for(output: Path) -> Path:
    return output.with_name(output.name + DATA_SUFFIX)


def source_file(base_dir: Path, tensor: onnx.TensorProto) -> tuple[Path, int, int]:
    """(data file, offset, length) of an external tensor of the model in `base_dir`. The location is the model's
    text: it must name a regular file inside `base_dir`, and the range must lie in that file."""
    try:
        info = ExternalDataInfo(tensor)
    except ValueError as exc:
        raise ModelError(f"tensor {tensor.name!r}: bad external data entry: {exc}",
                         hint="re-export the model with onnx's external data save") from exc
    where = f"tensor {tensor.name!r}: external data location {info.location!r}"
    if not info.location or os.path.isabs(info.location):
        raise ModelError(f"{where} is not a path relative to the model file",
                         hint="external data files must be named relative to the model, beside it")
    base = base_dir.resolve()
    path = (base / info.location).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise ModelError(f"{where} is not a file in {str(base)!r}",
                         hint="keep the model's data files beside it, as they were saved")
    size = path.stat().st_size
    offset = info.offset or 0
    length = info.length if info.length is not None else size - offset
    if offset + length > size:
        raise ModelError(f"{where}: bytes {offset}..{offset + length} lie past the end of the file ({size} bytes)",
                         hint="the data file is truncated or belongs to another model; re-export the model")
    return path, offset, length


@dataclass(frozen=True)
class Piece:
    """One external tensor's bytes: `length` bytes at `offset` of `source`, going to `at` in the new data file."""

    source: Path
    offset: int
    length: int
    at: int


def relocate(model: onnx.ModelProto, output: Path, base_dir: Path) -> tuple[onnx.ModelProto, list[Piece], Path]:
    """`model` (its external tensors located relative to `base_dir`, the input's folder) as it will be written to
    `output`: a copy whose external tensors point into `<output>.data`, the pieces that file is made of, and its
    path. Nothing is read or written: offsets follow from the lengths (page-aligned for tensors of a page or more),
    so the model's bytes are known before its data is copied."""
    output = Path(output)
    data_path = data_path_for(output)
    sources = [source_file(base_dir, t) for t in external_tensors(model)]  # by position: names may repeat
    inputs = {s[0] for s in sources}
    for mine in (output, data_path):
        if mine.resolve() in inputs:
            raise ModelError(f"the output {str(mine)!r} would overwrite a data file of the input model",
                             hint="write the output to another folder or under another name")
    out = onnx.ModelProto()
    out.CopyFrom(model)  # small: the weights are not in the proto
    placed: dict[tuple[Path, int, int], int] = {}
    pieces: list[Piece] = []
    end = 0
    for t, (path, offset, length) in zip(external_tensors(out), sources):
        key = (path, offset, length)
        if key not in placed:  # one copy per distinct source range
            at = end + ((-end) % PAGE if length >= PAGE else 0)
            placed[key] = at
            pieces.append(Piece(path, offset, length, at))
            end = at + length
        _locate(t, data_path.name, placed[key], length)
    return out, pieces, data_path


def write_data(pieces: list[Piece], data_path: Path) -> None:
    """Copy the pieces into `data_path` (a temp file beside it, renamed), 16 MiB at a time: a 2 GB weight never
    sits in memory."""
    from ..fsutil import default_mode, temp_tag

    data_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{data_path.name}.{temp_tag()}.", suffix=".tmp", dir=str(data_path.parent))
    handles: dict[Path, object] = {}
    try:
        with os.fdopen(fd, "wb") as dst:
            os.fchmod(dst.fileno(), default_mode())
            for p in pieces:
                dst.write(b"\0" * (p.at - dst.tell()))
                f = handles.get(p.source) or handles.setdefault(p.source, open(p.source, "rb"))
                _copy_range(f, p.offset, p.length, dst, str(p.source))
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, data_path)
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        for f in handles.values():
            f.close()


def _copy_range(src, offset: int, length: int, dst, name: str) -> None:
    src.seek(offset)
    left = length
    while left:
        piece = src.read(min(CHUNK, left))
        if not piece:
            raise ModelError(f"external data file {name!r} ended early",
                             hint="the data file is truncated; re-export the model")
        dst.write(piece)
        left -= len(piece)


def _locate(tensor: onnx.TensorProto, location: str, offset: int, length: int) -> None:
    checksum = next((e.value for e in tensor.external_data if e.key == "checksum"), None)  # same bytes: still true
    del tensor.external_data[:]
    entries = {"location": location, "offset": str(offset), "length": str(length)}
    if checksum is not None:
        entries["checksum"] = checksum
    for key, value in entries.items():
        e = tensor.external_data.add()
        e.key, e.value = key, value
    tensor.data_location = onnx.TensorProto.EXTERNAL


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
