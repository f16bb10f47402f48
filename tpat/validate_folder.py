"""Validate already-built plugins from their `trt_plugin/` folder (what `tpat validate` runs).

Works from files alone -- `meta/<plugin>.json` (signature), `meta/<plugin>.onnx` (the node as a model) and
`lib/lib<plugin>_kernels.so` -- so plugins generated on a CPU machine are checked on a GPU machine that has
neither TVM nor TensorRT. The result is written back into the plugin's meta file: a plugin is marked valid
only when it passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import onnx

from .errors import TpatError
from .fsutil import atomic_write_text
from .ir.signature import Signature
from .layout import PluginLayout


def find_plugins(plugin_dir: Path) -> list[str]:
    layout = PluginLayout(Path(plugin_dir))
    if not layout.meta.is_dir():
        raise TpatError(f"{str(plugin_dir)!r} is not a tpat plugin folder (no meta/ inside)",
                        hint="pass the trt_plugin/ folder that onnx2plugin or apply wrote")
    return layout.plugins()


def validate_plugin(plugin_dir: Path, plugin: str, dims_points: Sequence[Sequence[int]] | None = None,
                    seed: int = 0):
    from .stages.validate import validate

    layout = PluginLayout(Path(plugin_dir))
    meta_path = layout.path(plugin, "meta")
    if not meta_path.is_file():
        raise TpatError(f"no plugin {plugin!r} in {str(plugin_dir)!r}", hint=f"plugins there: {find_plugins(plugin_dir)}")
    meta = json.loads(meta_path.read_text())
    sig = Signature.from_json(meta["signature"])
    subgraph = onnx.load(str(layout.path(plugin, "subgraph")))
    lib = layout.path(plugin, "kernels_library")
    if not lib.is_file():
        raise TpatError(f"kernels library {str(lib)!r} is missing", hint="build the plugin first")
    points = [(f"dims{list(p)}", list(p)) for p in dims_points] if dims_points else None
    ref_path = layout.path(plugin, "reference")
    reference = onnx.load(str(ref_path)) if ref_path.is_file() else None
    report = validate(plugin, lib, subgraph, sig, points, seed, reference_model=reference)
    meta["validation"] = report.to_json()
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return report
