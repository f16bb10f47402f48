"""Dims ONNX shape inference leaves unnamed (`unk__N`) that are a declared dynamic dim in disguise.

ONNX's inference does not follow a size through a value: `Range(0, Gather(Shape(x), 0), 1)` has length `batch`,
but inference calls it `unk__1`, and every tensor broadcast or concatenated from it inherits that name (a GNN's
scatter indices built from the batch, say). A plugin needs each dim of its inputs to be a number or a declared
dynamic dim, so such a node could not be converted, with a hint naming a dim the user never saw.

onnxruntime's symbolic shape inference (sympy) evaluates such values. Where it says that an unnamed dim is exactly
a declared dim, that name replaces the unnamed one everywhere; nothing else is taken from it (where ONNX knows a
dim, ONNX stays authoritative), and an unnamed dim it maps to two different names, or to an expression, stays
unnamed. Without sympy, or when it fails on the model, the model stays as ONNX inferred it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Collection

import onnx

log = logging.getLogger(__name__)
UNKNOWN_PREFIX = "unk__"


def _value_infos(model: onnx.ModelProto):
    return (*model.graph.input, *model.graph.value_info, *model.graph.output)


def _dims(vi) -> list | None:
    tt = vi.type.tensor_type
    if vi.type.WhichOneof("value") != "tensor_type" or not tt.HasField("shape"):
        return None
    return list(tt.shape.dim)


def has_unknown_dims(model: onnx.ModelProto) -> bool:
    return any(d.dim_param.startswith(UNKNOWN_PREFIX) for vi in _value_infos(model) for d in (_dims(vi) or ()))


def _symbolic_shape_inference():
    """onnxruntime's module, loaded by file: the package `onnxruntime.tools` imports torch when it is installed
    (2-3 s of every run), and this module needs only onnx, numpy and sympy."""
    import importlib.util
    import sys

    name = "tpat_ort_symbolic_shape_infer"
    if name not in sys.modules:
        spec = importlib.util.find_spec("onnxruntime")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("onnxruntime is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "tools" / "symbolic_shape_infer.py"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name].SymbolicShapeInference


def _symbolic_shapes(model: onnx.ModelProto) -> dict[str, list]:
    try:
        SymbolicShapeInference = _symbolic_shape_inference()
    except (ImportError, OSError) as exc:  # sympy missing: ONNX's names stand
        log.info("symbolic shape inference unavailable (%s): unnamed dims stay unnamed", exc)
        return {}
    try:
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as exc:  # noqa: BLE001 - an op it cannot follow: ONNX's names stand
        log.info("symbolic shape inference failed (%s): unnamed dims stay unnamed", str(exc).splitlines()[:1])
        return {}
    return {vi.name: dims for vi in _value_infos(inferred) if (dims := _dims(vi)) is not None}


def name_unknown_dims(model: onnx.ModelProto, declared: Collection[str]) -> onnx.ModelProto:
    """`model` (shapes inferred) with each unnamed dim that symbolic inference proves equal to one of the
    `declared` dims renamed to it; the same model when there is nothing to rename."""
    declared = set(declared)
    if not declared or not has_unknown_dims(model):
        return model
    symbolic = _symbolic_shapes(model)
    mapping: dict[str, str | None] = {}
    for vi in _value_infos(model):
        dims, other = _dims(vi), symbolic.get(vi.name)
        if not dims or other is None or len(other) != len(dims):
            continue
        for mine, theirs in zip(dims, other):
            if mine.dim_param.startswith(UNKNOWN_PREFIX):
                name = theirs.dim_param if theirs.dim_param in declared else None
                mapping[mine.dim_param] = name if mapping.get(mine.dim_param, name) == name else None
    mapping = {k: v for k, v in mapping.items() if v}
    if not mapping:
        return model
    log.info("unnamed dims identified by symbolic shape inference: %s", mapping)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in _value_infos(m):
        for d in _dims(vi) or ():
            if d.dim_param in mapping:
                d.dim_param = mapping[d.dim_param]
    return m
