"""Ready-to-run commands for a converted model: trtexec and Polygraphy, with the dynamic-shape profile filled in.

The shapes are the converted model's graph inputs with every dynamic dim replaced by its declared range: a dim whose
``dim_param`` is the label of a plugin dim (``batch``) gets that dim's min/opt/max, and TPAT's convention (axis 0 that
is 0, -1 or unset) counts as ``batch``. A dynamic dim with no declared range is left as ``<label>`` so the command
visibly needs editing instead of silently running some other shape.

How the plugin library is loaded matters: tpat's IPluginV3 libraries register their creators through
``getCreators()``, which TensorRT reads in ``IPluginRegistry::loadLibrary`` -- trtexec ``--dynamicPlugins`` and the
Python ``trt.get_plugin_registry().load_library``. Tools that only ``dlopen`` a library (trtexec ``--staticPlugins``,
Polygraphy ``--plugins``, Triton ``plugins=``, ``LD_PRELOAD``) register nothing from it, so the Polygraphy command
parses the model through ``polygraphy_network.py``, a network script that calls ``load_library`` first.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import onnx

Range = tuple[int, int, int]
Extent = Union[int, str]  # a number, or "<label>" for a dynamic dim without a declared range
BATCH = "batch"
# The network script's path, resolved by the shell where the command runs (no absolute path in the metadata).
NETWORK_SCRIPT = '"$(python3 -m tpat.trt.polygraphy_network)"'
ENV_ONNX, ENV_PLUGINS = "TPAT_ONNX", "TPAT_PLUGINS"


@dataclass(frozen=True)
class InputProfile:
    name: str
    min: tuple[Extent, ...]
    opt: tuple[Extent, ...]
    max: tuple[Extent, ...]

    @property
    def dynamic(self) -> bool:
        return self.min != self.max or any(isinstance(e, str) for e in self.opt)

    @property
    def unresolved(self) -> list[str]:
        return [e for e in self.opt if isinstance(e, str)]


def dim_ranges(dims: Iterable) -> dict[str, Range]:
    """label -> (min, opt, max) from signature dims (`DimSpec`s or their JSON dicts). A label several plugins share
    gets the intersection of their ranges (every plugin refuses a profile wider than its own)."""
    out: dict[str, Range] = {}
    for d in dims:
        get = d.get if isinstance(d, dict) else lambda k, _d=d: getattr(_d, k)
        lo, opt, hi = int(get("min")), int(get("opt")), int(get("max"))
        if get("label") in out:
            plo, popt, phi = out[get("label")]
            lo, hi = max(lo, plo), min(hi, phi)
            opt = min(max(popt, lo), hi)
        out[get("label")] = (lo, opt, hi)
    return out


def input_profiles(model: onnx.ModelProto, ranges: Mapping[str, Range]) -> list[InputProfile]:
    """min/opt/max shape of every graph input of `model` that is not an initializer."""
    inits = {i.name for i in model.graph.initializer}
    profiles = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        lo, opt, hi = [], [], []
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            label = d.dim_param if d.HasField("dim_param") else ""
            if d.HasField("dim_value") and d.dim_value > 0:
                r = (d.dim_value,) * 3
            elif label in ranges:
                r = ranges[label]
            elif axis == 0 and not label and BATCH in ranges:  # TPAT's 0/-1/unset batch
                r = ranges[BATCH]
            else:
                r = (f"<{label or f'{vi.name}.{axis}'}>",) * 3
            lo.append(r[0])
            opt.append(r[1])
            hi.append(r[2])
        profiles.append(InputProfile(vi.name, tuple(lo), tuple(opt), tuple(hi)))
    return profiles


def _trtexec_shapes(profiles: Sequence[InputProfile], which: str) -> str:
    return ",".join(f"{p.name}:{'x'.join(map(str, getattr(p, which)))}" for p in profiles)


def _polygraphy_shapes(profiles: Sequence[InputProfile], which: str) -> list[str]:
    return [f"{p.name}:[{','.join(map(str, getattr(p, which)))}]" for p in profiles]


def trtexec_command(model: str | Path, plugins: Sequence[str | Path], profiles: Sequence[InputProfile]) -> list[str]:
    """trtexec building (and timing) an engine of `model` with the plugin libraries loaded via loadLibrary."""
    cmd = ["trtexec", f"--onnx={model}", *[f"--dynamicPlugins={p}" for p in plugins]]
    if any(p.dynamic for p in profiles):
        cmd += [f"--{k}Shapes={_trtexec_shapes(profiles, k)}" for k in ("min", "opt", "max")]
    return cmd


def polygraphy_commands(original: str | Path, model: str | Path, plugins: Sequence[str | Path],
                        profiles: Sequence[InputProfile], workdir: str | Path = ".") -> list[tuple[dict, list[str]]]:
    """Two (env, argv) steps: onnxruntime on the ORIGINAL model saves inputs + reference outputs (onnxruntime cannot
    run the plugin node), then TensorRT on the converted model, plugins loaded by polygraphy_network.py, compares."""
    workdir = Path(workdir)
    inputs, ref = str(workdir / "tpat_inputs.json"), str(workdir / "tpat_reference.json")
    dynamic = any(p.dynamic for p in profiles)
    reference = ["polygraphy", "run", str(original), "--onnxrt"]
    if dynamic:
        reference += ["--input-shapes", *_polygraphy_shapes(profiles, "opt")]
    reference += ["--save-inputs", inputs, "--save-outputs", ref]
    trt = ["polygraphy", "run", NETWORK_SCRIPT, "--model-type=trt-network-script", "--trt"]
    if dynamic:
        for k in ("min", "opt", "max"):
            trt += [f"--trt-{k}-shapes", *_polygraphy_shapes(profiles, k)]
    trt += ["--load-inputs", inputs, "--load-outputs", ref]
    env = {ENV_ONNX: str(model), ENV_PLUGINS: os.pathsep.join(map(str, plugins))}
    return [({}, reference), (env, trt)]


def shell(env: Mapping[str, str], argv: Sequence[str]) -> str:
    """One shell line; NETWORK_SCRIPT stays unquoted so the shell expands it."""
    words = [a if a == NETWORK_SCRIPT else shlex.quote(a) for a in argv]
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), *words])


def commands(model: onnx.ModelProto, ranges: Mapping[str, Range], output_model: str | Path,
             plugins: Sequence[str | Path], original_model: str | Path | None = None) -> dict:
    """The ``commands`` entry of a plugin's meta file (and of the workflow manifest): shell-ready strings.

    `model` is the model whose graph inputs the converted model keeps (the original, or the prepared one with the
    batch dim named); `ranges` maps dim labels to (min, opt, max); `plugins` are every plugin library the converted
    model needs.
    """
    profiles = input_profiles(model, ranges)
    out = {"trtexec": shell({}, trtexec_command(output_model, plugins, profiles))}
    notes = []
    if original_model is not None:
        out["polygraphy"] = [shell(env, argv) for env, argv in
                             polygraphy_commands(original_model, output_model, plugins, profiles)]
        notes.append("polygraphy: random inputs are not op-aware (index inputs, divisors): pass --data-loader-script "
                     "for such models, or check the plugin alone with `tpat validate`")
    unresolved = sorted({u for p in profiles for u in p.unresolved})
    if unresolved:
        notes.append(f"replace {', '.join(unresolved)}: dynamic dims with no declared range")
    if notes:
        out["notes"] = notes
    return out


def _relative(path: str | Path, base: Path | None) -> str:
    path = Path(path)
    if base is None:
        return str(path)
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive
        return str(path)


def model_commands(source: str | Path, output: str | Path, plugin_libs: Sequence[str | Path], dims: Iterable,
                   base: str | Path | None = None) -> dict:
    """`commands` for one converted model, from files: `source` (the original model, for its input shapes and the
    onnxruntime reference), `output` (the converted model), every plugin library it needs, and the plugin signature
    dims (`DimSpec`s or JSON) that give the ranges. Paths are written relative to `base` (run the commands there),
    so metadata stays free of absolute paths.
    """
    base = Path(base) if base is not None else None
    model = onnx.load(str(source), load_external_data=False)
    libs = [_relative(p, base) for p in dict.fromkeys(map(str, plugin_libs))]
    return commands(model, dim_ranges(dims), _relative(output, base), libs, _relative(source, base))
