"""Builtin example models, built in code so that trying tpat needs no download and no exporter.

Each entry of `BUILTIN` returns a fresh `onnx.ModelProto` whose bytes are the same on every call (no randomness,
fixed producer and IR version), so a cached conversion of an example stays a cache hit. The "example" model is the
quick-start one: small, dynamic batch, and made of one Softmax and one Erf -- ops tpat converts well -- between
TensorRT-native Mul/Add nodes, so the rewritten model mixes plugin and native layers as real models do.

    from tpat.examples import write_builtin
    write_builtin("example", "example.onnx")
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 17
IR_VERSION = 8  # what opset 17 came with; older onnxruntime builds refuse newer IR versions
PRODUCER = "tpat-examples"


def example() -> onnx.ModelProto:
    """x[batch, 64] -> Mul(0.5) -> Softmax(axis=-1) -> Erf -> Add(bias) -> y[batch, 64]."""
    bias = (np.arange(64, dtype=np.float32) / 64.0).astype(np.float32)
    nodes = [
        h.make_node("Mul", ["x", "scale"], ["scaled"], name="scale_0"),
        h.make_node("Softmax", ["scaled"], ["probs"], name="softmax_0", axis=-1),
        h.make_node("Erf", ["probs"], ["erf_out"], name="erf_0"),
        h.make_node("Add", ["erf_out", "bias"], ["y"], name="add_0"),
    ]
    graph = h.make_graph(
        nodes, "tpat_example",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [h.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])],
        initializer=[nh.from_array(np.array(0.5, np.float32), "scale"), nh.from_array(bias, "bias")],
    )
    return finish_model(graph)


def finish_model(graph: onnx.GraphProto, producer: str = PRODUCER) -> onnx.ModelProto:
    """Wrap a graph the way every built-in and recipe model is: opset 17, IR 8, fixed producer, fully checked."""
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name=producer,
                         producer_version="1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model_main(build: Callable[[], onnx.ModelProto], script: str) -> None:
    """`python make_model.py [out.onnx]` for recipes: default `model.onnx` beside the script, atomic write."""
    import sys

    from .fsutil import atomic_write_bytes

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(script).resolve().with_name("model.onnx")
    atomic_write_bytes(out, build().SerializeToString())
    print(f"wrote {out}")


BUILTIN: dict[str, Callable[[], onnx.ModelProto]] = {"example": example}


def write_builtin(name: str, path: str | Path) -> Path:
    """Write builtin model `name` to `path` atomically (temp file + rename); returns the path."""
    from .errors import TpatError
    from .fsutil import atomic_write_bytes

    if name not in BUILTIN:
        raise TpatError(f"no builtin model named {name!r}", hint=f"builtin models: {', '.join(sorted(BUILTIN))}")
    path = Path(path)
    atomic_write_bytes(path, BUILTIN[name]().SerializeToString())
    return path


BUILTIN_FOLDER = "builtin"


def builtin_path(name: str, output_dir: Path) -> Path:
    """The builtin model, written (when missing or different) to `<output_dir>/builtin/<name>.onnx`: in the output
    folder, not the cache, so the ready commands and the manifest refer to it by a path that is the same on every
    machine (`builtin/example.onnx`), and the converted model's original sits beside it."""
    path = Path(output_dir) / BUILTIN_FOLDER / f"{name}.onnx"
    data = BUILTIN[name]().SerializeToString()
    if not path.is_file() or path.read_bytes() != data:
        write_builtin(name, path)
    return path


def builtin_name(path: Path) -> str | None:
    """`name` if `path` is a builtin model as `builtin_path` writes it (its folder, its name, its bytes)."""
    path = Path(path)
    if path.parent.name != BUILTIN_FOLDER or path.stem not in BUILTIN or path.suffix != ".onnx":
        return None
    try:
        same = path.read_bytes() == BUILTIN[path.stem]().SerializeToString()
    except OSError:
        return None
    return path.stem if same else None
