"""The core engine: one model, its selected nodes -> plugins (sources, libraries, validation) + rewritten model.

Each step is a stage function from `tpat.stages`; this module only sequences them for one model. The
declarative workflow (`tpat apply`) runs the same stage functions as cached tasks of a plan.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import onnx

from .fsutil import atomic_write_bytes, atomic_write_text
from .ir.signature import Signature
from .stages import build, codegen
from .stages.extract import DimRange, Extracted, extract, infer_shapes, mark_batch_dims
from .stages.lower import Lowered, lower, tvm_version
from .stages.model_io import load_model, save_model_atomic
from .stages.rewrite import Replacement, rewrite
from .stages.select import Target, select_targets


@dataclass(frozen=True)
class Settings:
    dynamic: Mapping[str, DimRange] = field(default_factory=dict)
    arch: tuple[str, ...] = ("sm_90",)
    validate: str = "auto"  # auto: when a GPU is present; always; never
    trt_include: Path | None = None  # TensorRT headers: build the IPluginV3 .so when set


@dataclass
class PluginResult:
    target: Target
    plugin: str
    signature: Signature
    files: dict[str, Path]
    timings: dict[str, float]
    validation: dict | None = None


@dataclass
class ConvertResult:
    output_model: Path
    plugins: list[PluginResult]
    seconds: float


def prepare_model(model: onnx.ModelProto, dynamic: Mapping[str, DimRange]) -> onnx.ModelProto:
    """Name the batch dim (TPAT's 0/-1 convention) when it is declared dynamic, then infer shapes."""
    if "batch" in dynamic:
        model = mark_batch_dims(model)
    return infer_shapes(model)


def plugin_paths(plugin_dir: Path, plugin: str) -> dict[str, Path]:
    names = codegen.file_names(plugin)
    src, lib, meta = plugin_dir / "src", plugin_dir / "lib", plugin_dir / "meta"
    return {
        "kernels_header": src / names["kernels_header"],
        "kernels_source": src / names["kernels_source"],
        "plugin_header": src / names["plugin_header"],
        "plugin_source": src / names["plugin_source"],
        "kernels_library": lib / f"lib{plugin}_kernels.so",
        "plugin_library": lib / f"{plugin}.so",
        "subgraph": meta / f"{plugin}.onnx",
        "meta": meta / f"{plugin}.json",
    }


def make_plugin(ex: Extracted, settings: Settings, plugin_dir: Path) -> PluginResult:
    """Lower, render, build and (when a GPU is there) validate one plugin."""
    plugin = ex.target.plugin_name
    paths = plugin_paths(plugin_dir, plugin)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    arch = sorted(settings.arch)
    lowered: Lowered = lower(ex.subgraph, ex.signature, arch=arch[0])
    timings["lower"] = time.perf_counter() - t
    ctx = codegen.context(plugin, lowered, list(arch), tvm_version())
    sources = codegen.render_kernels(ctx)
    if settings.trt_include is not None:
        sources.update(codegen.render_plugin(ctx))
    src_dir = paths["kernels_source"].parent
    for name, text in sources.items():
        atomic_write_text(src_dir / name, text)
    atomic_write_bytes(paths["subgraph"], ex.subgraph.SerializeToString())
    t = time.perf_counter()
    builds = [build.build_kernels(src_dir, plugin, list(arch), paths["kernels_library"].parent)]
    if settings.trt_include is not None:
        builds.append(build.build_plugin(src_dir, plugin, list(arch), paths["plugin_library"].parent,
                                         settings.trt_include))
    timings["build"] = time.perf_counter() - t
    result = PluginResult(ex.target, plugin, lowered.signature,
                          {k: v for k, v in paths.items() if v.exists()}, timings)
    if _should_validate(settings.validate):
        from .stages.validate import validate

        t = time.perf_counter()
        report = validate(plugin, paths["kernels_library"], ex.subgraph, lowered.signature)
        timings["validate"] = time.perf_counter() - t
        result.validation = report.to_json()
    _write_meta(paths["meta"], ex, lowered, builds, result)
    result.files = {k: v for k, v in paths.items() if v.exists()}
    return result


def _should_validate(mode: str) -> bool:
    if mode == "never":
        return False
    from .gpu.cudart import gpu_available

    return mode == "always" or gpu_available()


def _write_meta(path: Path, ex: Extracted, lowered: Lowered, builds, result: PluginResult) -> None:
    meta = {
        "plugin": result.plugin,
        "node": {"name": ex.target.node_name, "op_type": ex.target.op_type, "index": ex.target.node_index},
        "model_inputs": list(ex.input_names),
        "model_outputs": list(ex.output_names),
        "folded_inputs": list(ex.folded_inputs),
        "signature": lowered.signature.to_json(),
        "launch_plan": lowered.plan.to_json(),
        "builds": [{"output": b.output.name, "command": [b.command[0].rsplit("/", 1)[-1], *b.command[1:-2]]}
                   for b in builds],
        "validation": result.validation or {"passed": None, "reason": "not run (no GPU here)"},
    }
    atomic_write_text(path, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def convert(
    input_model: str | Path,
    output_model: str | Path,
    node_names: Sequence[str] | None = None,
    node_types: Sequence[str] | None = None,
    plugin_name_dict: Mapping[str, str] | None = None,
    settings: Settings = Settings(),
    plugin_dir: str | Path | None = None,
) -> ConvertResult:
    start = time.perf_counter()
    input_model, output_model = Path(input_model), Path(output_model)
    plugin_dir = Path(plugin_dir) if plugin_dir else output_model.resolve().parent / "trt_plugin"
    original = load_model(input_model)
    model = prepare_model(original, settings.dynamic)
    targets = select_targets(model.graph, node_names, node_types, plugin_name_dict)
    results, replacements = [], []
    for target in targets:
        ex = extract(model, target, settings.dynamic)
        results.append(make_plugin(ex, settings, plugin_dir))
        replacements.append(Replacement(target.node_index, target.node_name, target.plugin_name,
                                        ex.input_names, ex.output_names, ex.folded_inputs))
    save_model_atomic(rewrite(original, replacements), output_model)
    return ConvertResult(output_model, results, time.perf_counter() - start)
