"""The spec as typed, frozen pydantic models: the only place the shape of `config.yaml` is defined.

Every model forbids unknown keys and validates strictly (``jobs: "2"`` is an error, not 2), because a spec
that silently means something else is worse than one that fails. Rules that span fields (min <= opt <= max,
a glob output needing ``{stem}``) raise `PydanticCustomError` with a ``hint`` in the context; the loader
turns that into the ``(hint: ...)`` part of the message, so each rule carries its own fix.

Settings that may sit in ``defaults`` or in a model entry live in `Settings`; a model overrides only the keys
it sets (`model_fields_set`), which is why every setting has a default instead of ``None``.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..arch import ARCH_PATTERN

GLOB_CHARS = frozenset("*?[")
OUTPUT_PLACEHOLDERS = ("stem", "output_dir")
DEFAULT_OUTPUT = "{output_dir}/{stem}.tpat.onnx"

Name = Annotated[str, Field(min_length=1)]
Arch = Annotated[str, Field(pattern=ARCH_PATTERN, description="CUDA arch, e.g. sm_80, sm_90a")]
DType = Literal["keep", "fp32", "fp16", "bf16"]
TolDType = Literal["fp32", "fp16", "bf16"]


class _Frozen(BaseModel):
    """Base: frozen, no unknown keys, strict scalars. Sequences stay lax only so YAML lists become tuples."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _no_repeats(items: tuple, what: str) -> tuple:
    """Reject a repeated entry: a copy-paste slip that would otherwise build or select something twice."""
    seen = set()
    for item in items:
        if item in seen:
            raise PydanticCustomError("duplicate_item", "{what} '{item}' is listed twice",
                                      {"what": what, "item": item, "hint": "remove the repeated entry"})
        seen.add(item)
    return items


class DimRange(_Frozen):
    """The range TensorRT's optimisation profile gets for one named dynamic dim."""

    min: int = Field(ge=1)
    opt: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DimRange:
        if not self.min <= self.opt <= self.max:
            raise PydanticCustomError(
                "dim_order", "min={min}, opt={opt}, max={max} is out of order",
                {"min": self.min, "opt": self.opt, "max": self.max, "hint": "each dim needs 1 <= min <= opt <= max"})
        return self


class Tolerance(_Frozen):
    """How far a plugin's output may drift from onnxruntime: |got - ref| <= atol + rtol * |ref|."""

    rtol: float = Field(ge=0)
    atol: float = Field(ge=0)


class Tuning(_Frozen):
    """meta_schedule search budget; 0 trials keeps the untuned (dlight) schedule."""

    trials: int = Field(0, ge=0, description="trials per plugin; 0 = untuned")
    per_op: dict[Name, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="op_type -> trials, overriding `trials` for nodes of that type")


class Executor(_Frozen):
    """Where tasks run: processes of this machine (`local`, the default), or a Dask cluster (`dask`, the extra
    `tpat[dask]`; docs/dask.md). The task graph, the cache and the outputs are the same either way."""

    kind: Literal["local", "dask"] = Field("local", description="local processes, or a dask.distributed cluster")
    jobs: int = Field(1, ge=1, description="local: plugins built in parallel; dask without an address: CPU workers "
                      "of the local cluster (default: one per core)")
    address: Name | None = Field(None, description="dask: the scheduler's address (tcp://host:8786); default: a "
                                 "local cluster sized to this machine, one GPU worker per visible GPU")

    @model_validator(mode="after")
    def _address_is_dask(self) -> Executor:
        if self.address is not None and self.kind != "dask":
            raise PydanticCustomError("address_without_dask", "address is a Dask scheduler's, but kind is {kind}",
                                      {"kind": self.kind, "hint": "set kind: dask, or remove address"})
        return self


class Settings(_Frozen):
    """Per-model settings. In `defaults` they apply to every model; in a model entry only the keys given win."""

    arch: tuple[Arch, ...] = Field(
        default=(), min_length=1, strict=False,
        description="SASS for each arch, PTX for the newest; default sm_90 (Hopper)")
    dtype: DType = Field("keep", description="dtype policy: keep the model's dtypes or compute in this one")
    dynamic: dict[Name, DimRange] = Field(default_factory=dict, description="dynamic dims by name")
    tuning: Tuning = Field(default_factory=Tuning)
    validate_: bool = Field(True, alias="validate", description="compare each plugin with onnxruntime on the GPU")
    check_trt: bool = Field(False, description="after rewriting, check with TensorRT-RTX's ONNX parser and builder "
                            "that every plugin node imports and an engine builds (CPU only; tpat[trt-rtx])")
    tolerance: dict[TolDType, Tolerance] = Field(
        default_factory=dict, description="per-dtype override of the validation tolerance")

    @field_validator("arch")
    @classmethod
    def _arch_once(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _no_repeats(v, "arch")


class Targets(_Frozen):
    """Which nodes become plugins. The three selectors combine; a `plugins` entry also selects its node."""

    nodes: tuple[Name, ...] = Field(default=(), strict=False, description="node names")
    op_types: tuple[Name, ...] = Field(default=(), strict=False, description="every node of these op types")
    plugins: dict[Name, Name] = Field(default_factory=dict, description="node name -> plugin name")
    fuse: tuple[Annotated[tuple[Name, ...], Field(strict=False, min_length=2)], ...] = Field(
        default=(), strict=False,
        description="groups of connected node names, each fused into one plugin (named after its last node)")
    fuse_patterns: tuple[Union[Annotated[tuple[Name, ...], Field(strict=False)], dict[Name, Name]], ...] = Field(
        default=(), strict=False,
        description="op-type patterns fused wherever they match, each match one plugin (identical matches share "
        "one): a chain [Add, LayerNormalization] (`Op?`: optional) or a DAG {name: Op, name: 'Op(feeder, ...)'}")

    @field_validator("nodes", "op_types")
    @classmethod
    def _once(cls, v: tuple[str, ...], info) -> tuple[str, ...]:
        return _no_repeats(v, "node" if info.field_name == "nodes" else "op_type")

    @field_validator("fuse_patterns")
    @classmethod
    def _readable_patterns(cls, v: tuple) -> tuple:
        from ..graph.patterns import PatternError, parse_pattern

        for entry in v:
            try:
                parse_pattern(entry)
            except PatternError as exc:
                raise PydanticCustomError("fuse_pattern", "{message}",
                                          {"message": str(exc), "hint": exc.hint}) from None
        return v

    @model_validator(mode="after")
    def _something(self) -> Targets:
        if not (self.nodes or self.op_types or self.plugins or self.fuse or self.fuse_patterns):
            raise PydanticCustomError("no_targets", "targets selects nothing",
                                      {"hint": "give at least one of nodes, op_types, plugins, fuse, fuse_patterns"})
        return self


class TorchSource(_Frozen):
    """A PyTorch module to export (torch.onnx.export, the dynamo exporter) and convert: `tpat[torch]`."""

    module: Name = Field(description="pkg.mod:factory returning the torch.nn.Module (the spec's folder is on "
                         "sys.path while it is imported)")
    inputs: Name = Field(description="pkg.mod:factory returning the example inputs: a tuple of tensors")
    dynamic_shapes: dict[Name, dict[int, Name]] = Field(
        default_factory=dict, description="input name -> {axis: dim name}; the dims' ranges come from `dynamic`")
    name: Name | None = Field(None, description="the exported model's stem; default: the module factory's name")

    @field_validator("module", "inputs")
    @classmethod
    def _factory(cls, v: str) -> str:
        module, _, attr = v.partition(":")
        if not module or not attr:
            raise PydanticCustomError("torch_factory", "'{value}' is not of the form pkg.mod:factory",
                                      {"value": v, "hint": "e.g. make_model:module (a function of no arguments)"})
        return v


class ModelSpec(Settings):
    """One model (or a glob of models, or a PyTorch module) to rewrite, with the settings it overrides."""

    path: Name | None = Field(None, description="ONNX file or glob, relative to the spec file")
    torch: TorchSource | None = Field(None, description="instead of path: a PyTorch module to export and convert")
    glob: bool | None = Field(
        None, description="whether path is a pattern; default: when it has *, ? or [ (false: a file named so)")
    output: Name | None = Field(
        None, description="output model; placeholders {stem}, {output_dir}; default " + DEFAULT_OUTPUT)
    targets: Targets = Field(description="which nodes become plugins: nodes, op_types and/or plugins")

    @field_validator("output")
    @classmethod
    def _output_placeholders(cls, v: str | None, info) -> str | None:
        if v is None:
            return v
        names = _placeholders(v)
        unknown = sorted(names - set(OUTPUT_PLACEHOLDERS))
        if unknown:
            raise PydanticCustomError("unknown_placeholder", "unknown placeholder {placeholder} in output",
                                      {"placeholder": "{" + unknown[0] + "}",
                                       "hint": "placeholders are {stem} and {output_dir}"})
        pattern = info.data.get("glob")
        if (is_glob(info.data.get("path") or "") if pattern is None else pattern) and "stem" not in names:
            raise PydanticCustomError("glob_needs_stem", "path is a glob but output has no {stem}",
                                      {"hint": "put {stem} in output so each matched model gets its own file"})
        return v


    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.path is None) == (self.torch is None):
            raise PydanticCustomError("model_source", "a model entry needs exactly one of path and torch",
                                      {"hint": "path: model.onnx, or torch: {module: pkg.mod:factory, inputs: "
                                               "pkg.mod:factory}"})
        return self

    @property
    def is_pattern(self) -> bool:
        """Whether `path` is expanded as a glob."""
        if self.path is None:
            return False
        return is_glob(self.path) if self.glob is None else self.glob


def _placeholders(text: str) -> set[str]:
    """Names used as ``{name}`` in `text`; a malformed brace is reported as an unknown placeholder."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:
        return {text}


def is_glob(path: str) -> bool:
    return any(c in GLOB_CHARS for c in path)


class Spec(_Frozen):
    """A whole `config.yaml`. Built by `tpat.spec.load_spec`, which also records where it came from."""

    version: int = Field(description="spec format version; only 1 exists", json_schema_extra={"const": 1})
    output_dir: Name = Field("tpat_out", description="relative to the spec file")
    cache_dir: Name | None = Field(None, description="default: $TPAT_CACHE_DIR or ~/.cache/tpat")
    executor: Executor = Field(default_factory=Executor)
    defaults: Settings = Field(default_factory=Settings)
    models: tuple[ModelSpec, ...] = Field(min_length=1, strict=False, description="the models to rewrite")

    _origin: object = PrivateAttr(default=None)  # load.Origin: file name, folder, node positions

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != 1:
            raise PydanticCustomError("unsupported_version", "version {version} is not supported",
                                      {"version": v, "hint": "this tpat reads `version: 1`"})
        return v
