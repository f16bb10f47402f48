"""The Python API. `onnx2plugin` keeps TPAT's signature so existing scripts run unchanged.

It runs the same planner, cache and executor as `tpat apply`, for one model described by arguments instead of
a spec file, and places the outputs in TPAT's layout (`trt_plugin/src`, `trt_plugin/lib`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .errors import TpatError


@dataclass
class PluginResult:
    node_name: str
    op_type: str
    plugin: str
    signature: object
    files: dict[str, Path]
    validation: dict | None = None
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ConvertResult:
    output_model: Path
    plugins: list[PluginResult]
    seconds: float
    warnings: list[str] = field(default_factory=list)  # also logged: e.g. no TensorRT headers, no <plugin>.so


def onnx2plugin(
    input_model_path: str | Path,
    output_model_path: str | Path,
    node_names: Sequence[str] | None = None,
    node_types: Sequence[str] | None = None,
    plugin_name_dict: Mapping[str, str] | None = None,
    dynamic_bs: bool = False,
    min_bs: int = 1,
    max_bs: int = 256,
    opt_bs: int = 128,
    *,
    arch: Sequence[str] = ("sm_90",),
    plugin_dir: str | Path | None = None,
    validate: str = "auto",
    cache_dir: str | Path | None = None,
    dtype: str = "keep",
    trials: int = 0,
    kernels_only: bool = False,
) -> ConvertResult:
    """Turn the selected nodes into TensorRT plugins and write the model that uses them.

    Nodes are chosen by `node_names`, `node_types` and/or `plugin_name_dict` (``{node: plugin}`` or
    ``{plugin: node}``; the default plugin name is ``tpat_<node_name>``). With `dynamic_bs`, axis 0 of the inputs
    is a dynamic batch in ``[min_bs, max_bs]`` served by one kernel (TPAT padded to three static batches).
    Sources go to ``<plugin_dir>/src/<plugin>.cu|.h`` and libraries to ``<plugin_dir>/lib/``; `plugin_dir`
    defaults to ``trt_plugin/`` beside the output model. Without TensorRT headers (`tpat.trt.headers`) only the
    kernels libraries are built; the result's `warnings` (also logged) says so. `validate`: auto (when a GPU is
    present), always, never.
    `dtype`: the precision plugins compute in: keep (the model's), fp32, fp16 or bf16 (Casts are added around them).
    `trials`: meta_schedule trials per plugin (needs a GPU, or tuning records beside the outputs); 0 = untuned.
    `kernels_only`: build only the kernels libraries, not the TensorRT plugin libraries (a check of the kernels).

    Example::

        import tpat
        tpat.onnx2plugin("model.onnx", "model.tpat.onnx", node_types=["OneHot"], dynamic_bs=True)
    """
    from .gpu.cudart import gpu_available
    from .workflow import make_plan, run_plan

    start = time.perf_counter()
    if validate not in ("auto", "always", "never"):
        raise TpatError(f"validate must be auto, always or never, got {validate!r}")
    if dtype not in ("keep", "fp32", "fp16", "bf16"):
        raise TpatError(f"dtype must be keep, fp32, fp16 or bf16, got {dtype!r}")
    dynamic = {}
    if dynamic_bs:
        if not 1 <= min_bs <= opt_bs <= max_bs:
            raise TpatError(f"batch range must satisfy 1 <= min <= opt <= max, got {min_bs}, {opt_bs}, {max_bs}",
                            hint="e.g. min_bs=1, opt_bs=128, max_bs=256")
        dynamic["batch"] = {"min": min_bs, "opt": opt_bs, "max": max_bs}
    if not (node_names or node_types or plugin_name_dict):
        from .errors import SelectionError

        raise SelectionError("no node selected", hint="give node names (-n), op types (-t) or a plugin map (-p)")
    source, output = Path(input_model_path).resolve(), Path(output_model_path).resolve()
    checks = validate == "always" or (validate == "auto" and gpu_available())
    resolved = _resolved(source, output, node_names, node_types, plugin_name_dict, dynamic, arch, checks, cache_dir,
                         dtype, trials)
    plugin_dir = Path(plugin_dir).resolve() if plugin_dir else output.parent / "trt_plugin"
    plan, headers = make_plan(resolved, plugin_dir=plugin_dir, jobs=1, kernels_only=kernels_only)
    if validate == "always" and not plan.gpu:
        raise TpatError("validate='always' but no GPU answers here", hint="use validate='auto' or run on a GPU")
    (mp,) = plan.models
    if mp.exception is not None:
        raise mp.exception
    result = run_plan(plan, headers, progress=False)
    for _, name in mp.nodes:
        chain = result.chains[name]
        if chain.error and chain.failed_stage != "validate":
            chain.raise_error()
    rewrite_error = result.model_status[mp.index].exception
    if rewrite_error is not None:  # the plugins were built but the model could not be written
        raise rewrite_error
    return ConvertResult(output, [_plugin_result(plan, result, node, name) for node, name in mp.nodes],
                         time.perf_counter() - start, plan.warnings)


def _resolved(source: Path, output: Path, node_names, node_types, plugin_name_dict, dynamic: dict, arch, validate,
              cache_dir, dtype, trials):
    """The arguments as the spec `tpat apply` would read (one model, its settings as defaults), resolved the same
    way: one path from arguments to a task graph, whichever way in."""
    from .spec import resolve_spec, spec_from_data
    from .graph.model_io import load_model
    from .graph.selection import orient_plugin_map

    load_model(source)  # a missing or broken input model is reported as such, before anything else
    mapping = {}
    if plugin_name_dict:
        names = [n.name for n in load_model(source).graph.node if n.name]
        mapping = orient_plugin_map(plugin_name_dict, names)
    targets = {"nodes": list(dict.fromkeys(node_names or ())), "op_types": list(dict.fromkeys(node_types or ())),
               "plugins": mapping}
    data = {"version": 1, "output_dir": str(output.parent),
            "defaults": {"arch": list(arch), "dtype": dtype, "dynamic": dynamic, "validate": validate,
                         "tuning": {"trials": trials}},
            # paths as they are: no glob, braces escaped for the output's {placeholders}
            "models": [{"path": str(source), "glob": False,
                        "output": str(output).replace("{", "{{").replace("}", "}}"),
                        "targets": {k: v for k, v in targets.items() if v}}]}
    if cache_dir is not None:
        data["cache_dir"] = str(cache_dir)
    return resolve_spec(spec_from_data(data, "tpat.onnx2plugin arguments"))


def _plugin_result(plan, result, node, name) -> PluginResult:
    p = plan.plugins[name]
    files = {k: v for k, v in plan.layout.files(name).items() if v.exists()}
    return PluginResult(node.node_name, node.op_type, name, p.signature, files, result.validation.get(name),
                        dict(result.chains[name].seconds))


def from_torch(module, example_inputs: Sequence, dynamic_shapes: Mapping | None = None,
               targets: Mapping | None = None, output_dir: str | Path = "tpat_out", name: str | None = None,
               opset: int | None = None, jobs: int = 1, progress: bool = False, **settings):
    """Export `module`, then convert it as `tpat apply` would: `targets` as the spec's `targets:` (nodes,
    op_types, plugins, fuse, fuse_patterns), `settings` as its per-model settings (dynamic, arch, dtype, validate,
    check_trt, tuning, tolerance). Returns the workflow's ApplyResult; the exported model is
    `<output_dir>/torch/<name>.onnx`, the rewritten one `<output_dir>/<name>.tpat.onnx`."""
    from .spec import resolve_spec, spec_from_data
    from .torch_export import OPSET, export_onnx
    from .workflow import make_plan, run_plan

    if not targets:
        raise TpatError("from_torch: no targets", hint="e.g. targets={'op_types': ['ScatterElements']}")
    output_dir = Path(output_dir).resolve()
    name = name or type(module).__name__
    source = export_onnx(module, example_inputs, output_dir / "torch" / f"{name}.onnx", dynamic_shapes,
                         settings.get("dynamic", {}), opset=opset or OPSET)
    data = {"version": 1, "output_dir": str(output_dir), "defaults": dict(settings),
            "models": [{"path": str(source), "glob": False, "output": "{output_dir}/" + f"{name}.tpat.onnx",
                        "targets": dict(targets)}]}
    resolved = resolve_spec(spec_from_data(data, "tpat.from_torch arguments"))
    plan, headers = make_plan(resolved, jobs=jobs)
    (mp,) = plan.models
    if mp.exception is not None:
        raise mp.exception
    result = run_plan(plan, headers, progress=progress)
    status = result.model_status[mp.index]
    if status.state != "ok":
        if status.exception is not None:
            raise status.exception
        raise TpatError(f"from_torch: {status.error}")
    return result
