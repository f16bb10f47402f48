"""`Spec` -> `ResolvedSpec`: the effective settings of every model, with absolute paths and globs expanded.

This is the planner's input, so it is plain frozen data: no "unset" values, no defaults left to apply, no
relative paths. Merging follows one rule: mappings (`dynamic`, `tolerance`, `tuning.per_op`) merge per key with
the model's keys winning; every other setting is replaced whole by the model's value when the model sets it.

Anything that needs the file system (a glob matching nothing, a missing model file, two models writing one
output) is checked here rather than in the pydantic models, and is still reported as ``file:line:col``.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..arch import sort_archs
from ..errors import TpatError
from .origin import Origin, SpecIssue, spec_error
from .model import DEFAULT_OUTPUT, DimRange, Executor, ModelSpec, Settings, Spec, Tolerance

BUILTIN_PREFIX = "builtin:"
DEFAULT_TOLERANCE: Mapping[str, Tolerance] = MappingProxyType({
    "fp32": Tolerance(rtol=1e-5, atol=1e-5),
    "fp16": Tolerance(rtol=1e-2, atol=1e-2),
    "bf16": Tolerance(rtol=5e-2, atol=5e-2),
})


def _frozen_map(d: dict) -> Mapping:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class ResolvedTargets:
    """`nodes` already includes the nodes named in `plugin_names`; `op_types` is expanded by the planner."""

    nodes: tuple[str, ...]
    op_types: tuple[str, ...]
    plugin_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    fuse: tuple[tuple[str, ...], ...] = ()  # node groups fused into one plugin each
    fuse_patterns: tuple = ()  # tpat.graph.patterns.Pattern: op-type patterns, each match fused into one plugin

    def plugin_name(self, node: str) -> str | None:
        """The user's name for `node`'s plugin, or None to let the planner derive one."""
        return self.plugin_names.get(node)


@dataclass(frozen=True)
class ResolvedModel:
    """One ONNX file to rewrite and everything that applies to it. `entry` is its index in `models:`.

    `arch` is sorted oldest first (SASS for each, PTX for the last); empty means the default, sm_90.
    """

    entry: int
    source: Path
    output: Path
    stem: str
    targets: ResolvedTargets
    arch: tuple[str, ...]
    dtype: str
    dynamic: Mapping[str, DimRange]
    trials: int
    per_op_trials: Mapping[str, int]
    validate: bool
    tolerance: Mapping[str, Tolerance]
    check_trt: bool = False

    def trials_for(self, op_type: str) -> int:
        return self.per_op_trials.get(op_type, self.trials)


@dataclass(frozen=True)
class ResolvedSpec:
    file: Path | None
    output_dir: Path
    cache_dir: Path
    executor: Executor
    models: tuple[ResolvedModel, ...]


def resolve_spec(spec: Spec, environ: Mapping[str, str] | None = None) -> ResolvedSpec:
    """Merge defaults into each model, resolve paths against the spec's folder and expand globs.

    `environ` (default `os.environ`) supplies ``TPAT_CACHE_DIR``. Raises `SpecError` listing every model path
    that matches nothing and every output written twice.
    """
    origin: Origin = spec._origin or Origin("<spec>", Path.cwd())
    environ = os.environ if environ is None else environ
    output_dir = _abspath(origin.folder, spec.output_dir)
    issues: list[SpecIssue] = []
    models = [r for i, m in enumerate(spec.models) for r in _expand(i, m, spec.defaults, output_dir, origin, issues)]
    models = _without_own_outputs(models, spec, output_dir)
    issues += _clashing_outputs(models, spec, origin)
    if issues:
        raise spec_error(issues)
    return ResolvedSpec(origin.path, output_dir, _cache_dir(spec, origin, environ), spec.executor, tuple(models))


def _abspath(folder: Path, text: str) -> Path:
    """`text` with ``~`` expanded, made absolute against `folder`, ``..`` folded (symlinks left alone)."""
    return Path(os.path.normpath(folder / os.path.expanduser(text)))


def _cache_dir(spec: Spec, origin: Origin, environ: Mapping[str, str]) -> Path:
    from ..cache.location import default_cache_dir

    if spec.cache_dir is not None:
        return _abspath(origin.folder, spec.cache_dir)
    return default_cache_dir(environ)


def _without_own_outputs(models: list[ResolvedModel], spec: Spec, output_dir: Path) -> list[ResolvedModel]:
    """A glob re-run must not pick up what this spec writes: the output models (`models/*.onnx` with outputs
    `models/{stem}.tpat.onnx`), the plugins' own node models (`trt_plugin/meta/*.onnx`) and the builtin models."""
    outputs = {r.output for r in models}
    written = [output_dir / "trt_plugin", output_dir / "builtin", output_dir / "torch"]
    return [r for r in models
            if not (spec.models[r.entry].is_pattern
                    and (r.source in outputs or any(r.source.is_relative_to(w) for w in written)))]


def _expand(i: int, m: ModelSpec, defaults: Settings, output_dir: Path, origin: Origin,
            issues: list[SpecIssue]) -> list[ResolvedModel]:
    settings = _effective(defaults, m)
    sources = _sources(i, m, origin, issues, output_dir, settings["dynamic"])
    template = m.output or DEFAULT_OUTPUT
    return [ResolvedModel(entry=i, source=src, stem=src.stem,
                          output=_abspath(origin.folder, template.format(stem=src.stem, output_dir=output_dir)),
                          targets=_targets(m), **settings)
            for src in sources]


def _sources(i: int, m: ModelSpec, origin: Origin, issues: list[SpecIssue], output_dir: Path,
             dynamic: Mapping[str, DimRange]) -> list[Path]:
    """The model files an entry names: the file itself, or a glob's matches, sorted so plans are stable.

    `builtin:<name>` names a model tpat builds itself (`tpat.examples`), so the quick start needs no download;
    a `torch:` entry is exported to `<output_dir>/torch/<name>.onnx` (`tpat.torch_export`).
    """
    if m.torch is not None:
        from ..torch_export import export_for_spec

        try:
            return [export_for_spec(m.torch, origin.folder, output_dir, dynamic)]
        except TpatError as exc:
            issues.append(origin.issue(("models", i, "torch"), "torch_export", exc.message, exc.hint))
            return []
    if m.path.startswith(BUILTIN_PREFIX):
        from ..examples import BUILTIN, builtin_path

        name = m.path[len(BUILTIN_PREFIX):]
        if name not in BUILTIN:
            issues.append(origin.issue(("models", i, "path"), "builtin_unknown", f"no builtin model {name!r}",
                                       f"builtin models: {', '.join(sorted(BUILTIN))}"))
            return []
        return [builtin_path(name, output_dir)]
    if m.is_pattern:
        matches = sorted(p for p in glob.glob(os.path.expanduser(m.path), root_dir=origin.folder, recursive=True)
                         if (origin.folder / p).is_file())
        if not matches:
            issues.append(origin.issue(("models", i, "path"), "glob_no_match",
                                       f"'{m.path}' matches no file in {origin.folder}",
                                       "check the pattern; relative paths start at the spec file's folder"))
        return [_abspath(origin.folder, p) for p in matches]
    path = _abspath(origin.folder, m.path)
    if not path.is_file():
        issues.append(origin.issue(("models", i, "path"), "model_not_found", f"model file '{path}' not found",
                                   "relative paths start at the spec file's folder"))
        return []
    return [path]


def _effective(defaults: Settings, m: ModelSpec) -> dict:
    """The six settings for one model: scalars and lists from the model if it set them, mappings merged."""
    def pick(name: str):
        return getattr(m if name in m.model_fields_set else defaults, name)

    tuning_set = "tuning" in m.model_fields_set and "trials" in m.tuning.model_fields_set
    return dict(
        arch=sort_archs(pick("arch")),
        dtype=pick("dtype"),
        dynamic=_frozen_map({**defaults.dynamic, **m.dynamic}),
        trials=m.tuning.trials if tuning_set else defaults.tuning.trials,
        per_op_trials=_frozen_map({**defaults.tuning.per_op, **m.tuning.per_op}),
        validate=pick("validate_"),
        check_trt=pick("check_trt"),
        tolerance=_frozen_map({**DEFAULT_TOLERANCE, **defaults.tolerance, **m.tolerance}),
    )


def _targets(m: ModelSpec) -> ResolvedTargets:
    grouped = {n for g in m.targets.fuse for n in g}
    nodes = tuple(dict.fromkeys(m.targets.nodes + tuple(p for p in m.targets.plugins if p not in grouped)))
    from ..graph.patterns import parse_pattern

    patterns = tuple(parse_pattern(p) for p in m.targets.fuse_patterns)
    return ResolvedTargets(nodes, m.targets.op_types, _frozen_map(m.targets.plugins), m.targets.fuse, patterns)


def _clashing_outputs(models: list[ResolvedModel], spec: Spec, origin: Origin) -> list[SpecIssue]:
    """Two inputs writing one output would overwrite each other; report the later one."""
    first: dict[Path, ResolvedModel] = {}
    issues = []
    for r in models:
        other = first.setdefault(r.output, r)
        if other is not r:
            key = "output" if spec.models[r.entry].output is not None else "path"
            issues.append(origin.issue(("models", r.entry, key), "output_clash",
                                       f"output '{r.output}' is also written for '{other.source.name}'",
                                       "give each model its own output, e.g. with {stem}"))
    return issues
