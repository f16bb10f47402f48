"""What a plugin folder says about its plugins (meta/<plugin>.json), which nodes of a model the parser must import
as plugins, and the optimisation profile a model's dynamic inputs get from the plugins' dim ranges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import TpatError
from ..layout import PluginLayout

PLUGIN_DOMAIN = "trt.plugins"
Shape3 = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


@dataclass
class PluginInfo:
    plugin: str
    nodes: list[str]
    library: Path
    meta: dict = field(default_factory=dict)
    version: str = "1"
    namespace: str = ""
    header_version: str | None = None  # TensorRT headers the library was built against, when the meta tells

    def model_inputs(self) -> list[list[str]]:
        """Per node of this plugin, the model tensors feeding plugin inputs 0, 1, ..."""
        if "nodes" in self.meta:
            return [list(n.get("model_inputs", [])) for n in self.meta["nodes"]]
        return [list(self.meta.get("model_inputs", []))]


def _header_version(meta: dict) -> str | None:
    """The TensorRT headers the plugin library was compiled against, as its metadata records them."""
    value = meta.get("tensorrt_headers")
    return value if isinstance(value, str) and value else None


def read_plugins(plugin_dir: Path) -> dict[str, PluginInfo]:
    """plugin name -> what meta/<plugin>.json says (nodes, library path, version, dims)."""
    plugins: dict[str, PluginInfo] = {}
    layout = PluginLayout(plugin_dir)
    for path in sorted(layout.meta.glob("*.json")):
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TpatError(f"cannot read plugin metadata '{path}': {exc}") from None
        name = meta.get("plugin") or path.stem
        if "nodes" in meta:
            nodes = [n.get("node", "") for n in meta["nodes"]]
        else:
            nodes = [meta.get("node", {}).get("name", "")]
        plugins[name] = PluginInfo(name, nodes, layout.path(name, "plugin_library"), meta,
                                   str(meta.get("plugin_version", "1")), str(meta.get("plugin_namespace", "")),
                                   _header_version(meta))
    return plugins


def _attr(node, name: str, default: str) -> str:
    for a in node.attribute:
        if a.name == name:
            return a.s.decode() if a.s else default
    return default


def plugin_nodes(model, plugins: Mapping[str, PluginInfo]) -> list[tuple[str, str, str, str]]:
    """(node, plugin name, version, namespace) for every node the parser must import as a plugin."""
    found = []
    for i, node in enumerate(model.graph.node):
        if node.domain == PLUGIN_DOMAIN or node.op_type in plugins:
            found.append((node.name or f"node_{i}", node.op_type, _attr(node, "plugin_version", "1"),
                          _attr(node, "plugin_namespace", "")))
    return found


def profile_shapes(model, plugins: Mapping[str, PluginInfo],
                   overrides: Mapping[str, Shape3] | None = None) -> dict[str, Shape3]:
    """min/opt/max per dynamic graph input: a dim named like a plugin dim (e.g. 'batch') or fed to a plugin input
    axis takes that dim's range from the plugin metadata; `overrides` win."""
    by_name: dict[str, tuple[int, int, int]] = {}
    by_input_axis: dict[tuple[str, int], tuple[int, int, int]] = {}
    for p in plugins.values():
        for d in p.meta.get("signature", {}).get("dims", []):
            rng = (int(d["min"]), int(d["opt"]), int(d["max"]))
            for key in {d.get("name"), d.get("label")} - {None}:
                by_name.setdefault(key, rng)
            for model_inputs in p.model_inputs():
                if 0 <= d.get("input", -1) < len(model_inputs):
                    by_input_axis.setdefault((model_inputs[d["input"]], int(d["axis"])), rng)
    initializers = {t.name for t in model.graph.initializer}
    shapes: dict[str, Shape3] = {}
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        if overrides and vi.name in overrides:
            shapes[vi.name] = overrides[vi.name]
            continue
        dims = vi.type.tensor_type.shape.dim
        lo, opt, hi, dynamic = [], [], [], False
        for axis, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                for v in (lo, opt, hi):
                    v.append(d.dim_value)
                continue
            rng = by_name.get(d.dim_param) if d.dim_param else None
            rng = rng or by_input_axis.get((vi.name, axis))
            if rng is None:
                raise TpatError(f"model input '{vi.name}' axis {axis} is dynamic ('{d.dim_param or '?'}') and no "
                                "plugin metadata gives its range",
                                hint=f"pass --shape {vi.name}=MINxA:OPTxA:MAXxA (dims joined by 'x')")
            dynamic = True
            lo.append(rng[0])
            opt.append(rng[1])
            hi.append(rng[2])
        if dynamic:
            shapes[vi.name] = (tuple(lo), tuple(opt), tuple(hi))
    return shapes
