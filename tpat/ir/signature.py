"""What a plugin consumes and produces: tensors with dtypes and shapes, and the dynamic dims that size them.

A *dim* is a named dynamic dimension (``batch``) with its range and the place the runtime reads it from
(input tensor, axis). Every shape is a tuple of shape expressions over those dims, so the plugin, the launcher
and the validator agree on one description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import expr as E
from .dtypes import DType, dtype_from_name


@dataclass(frozen=True)
class DimSpec:
    """A dynamic dim: C-safe `name`, the model's own `label`, its range and where the runtime reads it."""

    name: str
    label: str
    min: int
    opt: int
    max: int
    input: int
    axis: int

    def to_json(self) -> dict:
        return {"name": self.name, "label": self.label, "min": self.min, "opt": self.opt, "max": self.max,
                "input": self.input, "axis": self.axis}


@dataclass(frozen=True)
class TensorSig:
    name: str
    dtype: DType
    shape: tuple[E.Expr, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    def concrete_shape(self, dims: Sequence[int]) -> tuple[int, ...]:
        return tuple(E.evaluate(s, dims) for s in self.shape)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype.name, "shape": [E.to_json(s) for s in self.shape]}


@dataclass(frozen=True)
class Signature:
    inputs: tuple[TensorSig, ...]
    outputs: tuple[TensorSig, ...]
    dims: tuple[DimSpec, ...] = field(default=())

    @property
    def dim_names(self) -> list[str]:
        return [d.name for d in self.dims]

    def points(self) -> dict[str, list[int]]:
        """The named dim settings every plugin is checked at."""
        if not self.dims:
            return {"static": []}
        return {k: [getattr(d, k) for d in self.dims] for k in ("min", "opt", "max")}

    def specialize(self, values: dict[str, int]) -> "Signature":
        """The signature at fixed dim values (a tuning bucket): no dynamic dims left."""
        from dataclasses import replace

        def fix(tensors):
            return tuple(replace(t, shape=tuple(E.substitute(s, values) for s in t.shape)) for t in tensors)

        return Signature(fix(self.inputs), fix(self.outputs), ())

    def to_json(self) -> dict:
        return {
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "dims": [d.to_json() for d in self.dims],
        }

    @classmethod
    def from_json(cls, j: dict) -> "Signature":
        dims = tuple(DimSpec(**d) for d in j["dims"])
        names = [d.name for d in dims]

        def tensors(items):
            return tuple(
                TensorSig(t["name"], dtype_from_name(t["dtype"]), tuple(E.from_json(s, names) for s in t["shape"]))
                for t in items
            )

        return cls(tensors(j["inputs"]), tensors(j["outputs"]), dims)
