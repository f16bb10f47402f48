"""From files: a rewritten model, its plugins' folder and its original, checked whole (what `tpat run` and
`tpat validate --model` do, and the per-model step of `apply`'s validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import onnx

from ..errors import ModelError, TpatError
from ..graph.partition import is_plugin_node
from ..layout import MANIFEST_NAME


def load(path: Path) -> onnx.ModelProto:
    if not Path(path).is_file():
        raise ModelError(f"model file {str(path)!r} not found")
    try:
        return onnx.load(str(path))  # with its external data, from beside it
    except Exception as exc:
        raise ModelError(f"cannot read model {str(path)!r}: {str(exc).splitlines()[0][:300]}") from exc


def plugin_names(model: onnx.ModelProto) -> list[str]:
    return list(dict.fromkeys(n.op_type for n in model.graph.node if is_plugin_node(n)))


def find_original(model_path: Path) -> Path | None:
    """The source of a rewritten model, as the manifest (`tpat.lock.yaml`) of the output folder records it."""
    import yaml

    model_path = Path(model_path).resolve()
    for folder in (model_path.parent, *list(model_path.parents)[1:3]):
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file():
            continue
        try:
            data = yaml.safe_load(manifest.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for m in data.get("models", []):
            if (folder / str(m.get("output", ""))).resolve() == model_path:
                source = folder / str(m.get("path", ""))
                return source.resolve() if source.is_file() else None
    return None


def plugin_ranges(plugins: Mapping) -> dict[str, tuple[int, int, int]]:
    """The dims the plugins were built for, by the model's own dim names (the spec's `dynamic:`)."""
    out = {}
    for p in plugins.values():
        for d in p.files.signature.dims:
            out.setdefault(d.label, (d.min, d.opt, d.max))
    return out


def check_files(model_path: Path, original_path: Path | None = None, plugin_dir: Path | None = None,
                backend: str = "gpu", ranges: Mapping[str, tuple[int, int, int]] | None = None, seed: int = 0):
    """A `tpat.runtime.check.ModelCheck` of the rewritten model at `model_path` (plugins from `plugin_dir`,
    default `trt_plugin/` beside it) against `original_path` (default: the source its manifest records)."""
    from .check import check_model, dim_ranges
    from .model_runner import ModelRunner
    from .plugins import load_plugins

    model_path = Path(model_path)
    original_path = Path(original_path) if original_path else find_original(model_path)
    if original_path is None:
        raise TpatError(f"no original model known for {str(model_path)!r}",
                        hint="name it with --original, or keep the tpat.lock.yaml that apply wrote beside it")
    plugin_dir = Path(plugin_dir) if plugin_dir else model_path.parent / "trt_plugin"
    rewritten, original = load(model_path), load(original_path)
    names = plugin_names(rewritten)
    if not names:
        raise TpatError(f"{str(model_path)!r} has no plugin node (domain trt.plugins)",
                        hint="pass the model `tpat apply` rewrote (<stem>.tpat.onnx)")
    plugins = load_plugins(plugin_dir, names, backend)
    runner = ModelRunner(rewritten, plugins)
    try:
        return check_model(rewritten, original, plugins, runner, dim_ranges(original, plugin_ranges(plugins), ranges),
                           seed, (str(model_path), str(original_path)), backend)
    finally:
        runner.close()
