"""Exporting PyTorch modules with `torch.onnx.export` (the dynamo exporter), for `tpat.from_torch` and the spec's
`torch:` model entries.

    import tpat
    result = tpat.from_torch(model, (x, edges), dynamic_shapes={"x": {0: "batch"}, "edges": {0: "batch"}},
                             targets={"op_types": ["ScatterElements"]}, dynamic={"batch": {"min": 1, "opt": 8,
                             "max": 64}}, output_dir="tpat_out")

`dynamic_shapes` names each dynamic axis of each input (by the module's argument names, or the position in
`example_inputs`); the ranges come from `dynamic` (the spec's setting), so torch.export and the plugins agree on
them. torch is an optional dependency: nothing here imports it until called. Tested with torch 2.13 (CPU) here and
meant for torch >= 2.9, whose dynamo exporter writes named dynamic dims.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Mapping, Sequence

from .errors import TpatError

OPSET = 17  # erf-GELU stays Div/Erf/Add/Mul (opset 20 writes one Gelu node); TensorRT 10 parses all of opset 17


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise TpatError("from_torch needs PyTorch", hint="pip install torch onnxscript (tpat[torch])") from exc
    return torch


def input_names(module, example_inputs: Sequence) -> list[str]:
    """The module's forward argument names for the example inputs (what torch.export keys dynamic shapes by)."""
    try:
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:len(example_inputs)]]
    return names + [f"input_{i}" for i in range(len(names), len(example_inputs))]


def torch_dims(dynamic_shapes: Mapping | None, names: Sequence[str], ranges: Mapping[str, Mapping]) -> dict | None:
    """{input: {axis: dim name}} (names or positions) -> torch.export's {input: {axis: Dim}}, ranges from `ranges`
    (dim name -> {min, opt, max}). One Dim per name, so axes named alike are equal for the exporter too."""
    if not dynamic_shapes:
        return None
    torch = _torch()
    made: dict[str, object] = {}
    out = {}
    for key, axes in dynamic_shapes.items():
        name = names[key] if isinstance(key, int) else key
        if name not in names:
            raise TpatError(f"dynamic_shapes names input {key!r}, which the module does not take",
                            hint=f"inputs: {', '.join(names)}")
        out[name] = {}
        for axis, dim in dict(axes).items():
            if dim not in ranges:
                raise TpatError(f"dynamic dim {dim!r} (input {name!r}, axis {axis}) has no range",
                                hint=f"add it to dynamic=: {{{dim!r}: {{'min': 1, 'opt': 8, 'max': 64}}}}")
            r = ranges[dim]
            if dim not in made:  # torch specialises sizes 0 and 1: its Dim starts at 2 unless the range needs 1
                made[dim] = torch.export.Dim(dim, min=int(r["min"]), max=int(r["max"]))
            out[name][int(axis)] = made[dim]
    return {n: out.get(n) for n in names}


def export_onnx(module, example_inputs: Sequence, path: str | Path, dynamic_shapes: Mapping | None = None,
                ranges: Mapping[str, Mapping] | None = None, output_names: Sequence[str] | None = None,
                opset: int = OPSET) -> Path:
    """Export `module` to `path` (weights over 1 KiB in `<path>.data` beside it when the model is large)."""
    torch = _torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example_inputs = tuple(example_inputs)
    names = input_names(module, example_inputs)
    shapes = torch_dims(dynamic_shapes, names, ranges or {})
    was_training = getattr(module, "training", False)
    module.eval()
    try:
        program = torch.onnx.export(module, example_inputs, dynamo=True, opset_version=opset, input_names=names,
                                    output_names=list(output_names) if output_names else None,
                                    dynamic_shapes=shapes, verbose=False)
    except Exception as exc:
        raise TpatError(f"torch.onnx.export failed for {type(module).__name__}: {str(exc).splitlines()[0][:400]}",
                        hint="check that the module runs under torch.export with these inputs and dynamic shapes")
    finally:
        module.train(was_training)
    large = sum(t.nbytes for t in module.state_dict().values() if hasattr(t, "nbytes")) > (1 << 30)
    program.save(str(path), external_data=large)
    return path


def export_for_spec(source, folder: Path, output_dir: Path, dynamic: Mapping) -> Path:
    """A spec's `torch:` entry (`tpat.spec.model.TorchSource`) exported to `<output_dir>/torch/<name>.onnx`, the
    factories imported with the spec's folder on sys.path. The file is replaced only when its bytes change (the
    dynamo exporter is deterministic), so an unchanged module keeps its digest and every task stays cached."""
    import importlib
    import shutil
    import sys
    import tempfile

    def factory(text: str):
        module_name, _, attr = text.partition(":")
        sys.path.insert(0, str(folder))
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise TpatError(f"cannot import {text!r}: {exc}",
                            hint="module paths are relative to the spec's folder (or installed); pkg.mod:factory") from exc
        finally:
            sys.path.remove(str(folder))

    name = source.name or source.module.partition(":")[2]
    module, inputs = factory(source.module)(), factory(source.inputs)()
    ranges = {k: {"min": r.min, "opt": r.opt, "max": r.max} for k, r in dynamic.items()}
    final = Path(output_dir) / "torch" / f"{name}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(module, tuple(inputs), Path(tmp) / final.name, dict(source.dynamic_shapes), ranges)
        final.parent.mkdir(parents=True, exist_ok=True)
        for made in sorted(Path(tmp).iterdir()):  # the model, and its .data when the weights are large
            dest = final.parent / made.name
            if not dest.is_file() or dest.read_bytes() != made.read_bytes():
                shutil.copyfile(made, dest.with_name(dest.name + ".tmp"))
                dest.with_name(dest.name + ".tmp").replace(dest)
    return final
