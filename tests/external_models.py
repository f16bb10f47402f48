"""Models whose weights live in external data files, written with onnx's external-data writer one weight at a
time (a 2 GB model never sits in memory twice)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnx.external_data_helper import save_external_data, set_external_data

import op_models


def save_external(model: onnx.ModelProto, path: Path, weights: Mapping[str, Callable[[], np.ndarray]]) -> Path:
    """Save `model` to `path` with the initializers `weights` makes in `<path name>.data` beside it."""
    location = path.name + ".data"
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / location).unlink(missing_ok=True)
    for name, make in weights.items():
        t = nh.from_array(make(), name)
        set_external_data(t, location)
        save_external_data(t, str(path.parent))  # appends, records offset and length
        t.ClearField("raw_data")
        model.graph.initializer.append(t)
    onnx.save(model, str(path))
    return path


def reshape_erf_graph() -> onnx.GraphProto:
    """x[batch, 64] -> MatMul(W) -> Reshape(shape=[0, 4, 16]) -> Erf -> Add(bias[4, 16]) -> y."""
    nodes = [h.make_node("MatMul", ["x", "W"], ["m"], name="matmul"),
             h.make_node("Reshape", ["m", "shape"], ["r"], name="reshape"),
             h.make_node("Erf", ["r"], ["e"], name="erf"),
             h.make_node("Add", ["e", "bias"], ["y"], name="add_bias")]
    return h.make_graph(nodes, "external", [op_models._vi("x", T.FLOAT, ["batch", 64])],
                        [op_models._vi("y", T.FLOAT, ["batch", 4, 16])])


def small_external_model(path: Path, external_shape: bool = False) -> Path:
    """A 20 KB model with its [64, 64] weight and [4, 16] bias (small: baked into a plugin) in `<name>.data`, and
    the Reshape's shape too with `external_shape` (onnxruntime cannot load that: its shape inference reads no
    files; exporters keep such small tensors inline)."""
    model = h.make_model(reshape_erf_graph(), opset_imports=[h.make_opsetid("", 17)], producer_name="tpat-tests")
    model.ir_version = 8
    rng = np.random.default_rng(0)
    weights = {"W": lambda: rng.standard_normal((64, 64)).astype(np.float32) / 8,
               "bias": lambda: np.arange(64, dtype=np.float32).reshape(4, 16) / 64}
    shape = np.array([0, 4, 16], np.int64)
    if external_shape:
        weights["shape"] = lambda: shape
    else:
        model.graph.initializer.append(nh.from_array(shape, "shape"))
    return save_external(model, path, weights)


def zero_weight(folder: Path, name: str, dims: tuple[int, ...], location: str) -> onnx.TensorProto:
    """A float32 initializer of zeros in its own data file, written as a sparse file: gigabytes that take no
    disk and no time to make, and as much memory as any real weight if someone reads them."""
    nbytes = int(np.prod(dims)) * 4
    with open(folder / location, "wb") as f:
        f.truncate(nbytes)
    t = onnx.TensorProto(name=name, data_type=T.FLOAT, dims=list(dims), data_location=onnx.TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", str(nbytes))):
        e = t.external_data.add()
        e.key, e.value = key, value
    return t


BIG_ROWS = 3 << 20  # rows of 64 floats: 768 MiB per table


def big_table(k: int) -> np.ndarray:
    """Table k: row r holds k + (r mod 997) / 1000 + c / 100000 -- every row tells where it was read from."""
    rows = (np.arange(BIG_ROWS, dtype=np.int32) % 997).astype(np.float32) / 1000 + k
    return rows[:, None] + (np.arange(64, dtype=np.float32) / 100000)[None, :]


def big_gather_model(path: Path, tables: int = 3) -> Path:
    """Over 2 GB: `tables` embedding tables of 768 MiB (native Gathers, summed by native Adds) plus an Erf,
    y = sum_k table_k[idx] + Erf(x); the tables are in `<name>.data`, written one at a time."""
    nodes = [h.make_node("Gather", [f"table{k}", "idx"], [f"g{k}"], name=f"gather{k}", axis=0) for k in range(tables)]
    total = "g0"
    for k in range(1, tables):
        nodes.append(h.make_node("Add", [total, f"g{k}"], [f"sum{k}"], name=f"sum{k}"))
        total = f"sum{k}"
    nodes += [h.make_node("Erf", ["x"], ["e"], name="erf"), h.make_node("Add", [total, "e"], ["y"], name="out")]
    graph = h.make_graph(nodes, "big", [op_models._vi("x", T.FLOAT, ["batch", 64]),
                                        op_models._vi("idx", T.INT64, ["batch"])],
                         [op_models._vi("y", T.FLOAT, ["batch", 64])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="tpat-tests")
    model.ir_version = 8
    return save_external(model, path, {f"table{k}": (lambda k=k: big_table(k)) for k in range(tables)})
