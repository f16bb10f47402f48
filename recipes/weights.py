"""Random weights a model's graph alone can regenerate, so a large recipe model travels without its data file.

`randomize(model)` replaces every float initializer of at least `MIN_ELEMENTS` elements with normal values drawn
from a generator seeded by the tensor's name -- mean 1, std 0.05 for a LayerNormalization scale, else mean 0, std
0.02 (BERT's initializer range) -- and writes the rule and a digest of the values into the tensor's doc_string.
tpat keeps initializers as they are when it rewrites a model (their external data is copied), so the rewritten
model carries the same rules. `python recipes/weights.py MODEL.onnx ...` writes each such model's external data
file back from the rules alone (numpy + onnx), checking every digest: a machine that got only the graphs (a GPU
machine with a 64 MiB carry limit, for BERT-base's 440 MB) gets byte-identical weights.
"""

from __future__ import annotations

import hashlib
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

MIN_ELEMENTS = 1024
TAG = "tpat-recipe-random"


def _values(name: str, shape, mean: float, std: float) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return (mean + std * rng.standard_normal(tuple(shape))).astype(np.float32)


def _digest(values: np.ndarray) -> str:
    return hashlib.sha256(values.tobytes()).hexdigest()[:16]


def randomize(model: onnx.ModelProto) -> onnx.ModelProto:
    scales = {n.input[1] for n in model.graph.node if n.op_type == "LayerNormalization" and len(n.input) > 1}
    for t in model.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT or int(np.prod(t.dims)) < MIN_ELEMENTS:
            continue
        mean, std = (1.0, 0.05) if t.name in scales else (0.0, 0.02)
        values = _values(t.name, t.dims, mean, std)
        t.CopyFrom(numpy_helper.from_array(values, t.name))
        t.doc_string = f"{TAG} mean={mean} std={std} sha256={_digest(values)}"
    return model


def save(model: onnx.ModelProto, path: Path) -> None:
    """The graph in `path`, the tagged tensors (only they: the rest must travel with the graph) in `<path>.data`."""
    from onnx.external_data_helper import set_external_data

    path = Path(path)
    location = f"{path.name}.data"
    with open(path.parent / location, "wb") as f:
        for t in model.graph.initializer:
            if t.doc_string.startswith(TAG):
                f.seek((f.tell() + 63) // 64 * 64)
                offset = f.tell()
                f.write(t.raw_data)
                set_external_data(t, location, offset, len(t.raw_data))
                t.ClearField("raw_data")
                t.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(model, str(path))


def materialize(path: Path) -> int:
    """Write the external data of `path`'s tagged tensors from their rules; returns how many were written."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    written = 0
    for t in model.graph.initializer:
        if not t.doc_string.startswith(TAG):
            continue
        rule = dict(item.split("=", 1) for item in t.doc_string.split()[1:])
        values = _values(t.name, t.dims, float(rule["mean"]), float(rule["std"]))
        if _digest(values) != rule["sha256"]:
            raise SystemExit(f"{t.name}: regenerated values differ from the recorded ones (numpy's generator "
                             "changed?): carry the data file instead")
        info = {e.key: e.value for e in t.external_data}
        target = path.parent / info["location"]
        offset = int(info.get("offset", 0))
        mode = "r+b" if target.exists() else "w+b"
        with open(target, mode) as f:
            f.seek(offset)
            f.write(values.tobytes())
        written += 1
    return written


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {materialize(Path(arg))} tensors written")
