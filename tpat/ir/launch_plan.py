"""The launch plan: which kernels run, in which order, with what grid, block, shared memory and arguments.

TPAT recorded launch configs from a dry run at fixed shapes; we read them from TVM's lowered IR as expressions of
the dynamic dims (see ``tpat.stages.lower``), so one plan serves every dim value in the declared range. The plan
is plain data: it is written as JSON, diffed in tests and rendered into the C launcher.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import expr as E

@dataclass(frozen=True)
class KernelArg:
    """One kernel parameter.

    kind: input/output/constant -> `index` into the signature inputs/outputs or the plan's constants;
          workspace -> `offset` bytes into the workspace; scalar -> `value` (an expression of the dims).
    ctype: the C type of the kernel parameter as TVM declared it (``float*``, ``int64_t``).
    """

    kind: str
    ctype: str
    index: int = -1
    offset: E.Expr = 0
    value: E.Expr = 0

    def to_json(self) -> dict:
        j: dict = {"kind": self.kind, "ctype": self.ctype}
        if self.kind in ("input", "output", "constant"):
            j["index"] = self.index
        elif self.kind == "workspace":
            j["offset"] = E.to_json(self.offset)
        else:
            j["value"] = E.to_json(self.value)
        return j


@dataclass(frozen=True)
class Guard:
    """A launch condition on the dims, `expr == 0` (`zero`) or `expr != 0`: TVM's host code chose between kernels
    by the runtime dims (`tpat/schedules/divisible_dims.py`: a vector kernel for rows of whole 16-byte vectors)."""

    expr: E.Expr
    zero: bool = True

    def holds(self, dims: Sequence[int]) -> bool:
        return (E.evaluate(self.expr, dims) == 0) == self.zero

    def to_json(self) -> dict:
        return {"expr": E.to_json(self.expr), "zero": self.zero}

    def describe(self) -> str:
        return f"{E.to_str(self.expr)} {'==' if self.zero else '!='} 0"


@dataclass(frozen=True)
class Kernel:
    name: str
    grid: tuple[E.Expr, E.Expr, E.Expr]
    block: tuple[E.Expr, E.Expr, E.Expr]
    dyn_smem: E.Expr
    args: tuple[KernelArg, ...]
    when: tuple[Guard, ...] = ()  # launched only where every guard holds; () always

    def launched(self, dims: Sequence[int]) -> bool:
        return all(g.holds(dims) for g in self.when)

    def to_json(self) -> dict:
        j = {
            "name": self.name,
            "grid": [E.to_json(g) for g in self.grid],
            "block": [E.to_json(b) for b in self.block],
            "dyn_smem": E.to_json(self.dyn_smem),
            "args": [a.to_json() for a in self.args],
        }
        if self.when:  # absent when unguarded: the plans (and cache keys) of every other kernel stay as they were
            j["when"] = [g.to_json() for g in self.when]
        return j


@dataclass(frozen=True)
class Constant:
    """A small initializer baked into the plugin and uploaded once at init (never per enqueue)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    data: bytes = field(repr=False)

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "nbytes": self.nbytes,
                "sha256": hashlib.sha256(self.data).hexdigest()}


@dataclass(frozen=True)
class Buffer:
    """An intermediate tensor storage: `size` bytes at `offset` in the plugin workspace."""

    offset: E.Expr
    size: E.Expr

    def to_json(self) -> dict:
        return {"offset": E.to_json(self.offset), "size": E.to_json(self.size)}


@dataclass(frozen=True)
class Copy:
    """An output that TVM does not compute into its own buffer: the output of an identity or view op is its input,
    a node with constant outputs (Constant, Size) returns a constant, a second output of a multi-output node can
    be an intermediate buffer. A plugin must still fill each output buffer, so the launcher copies `nbytes`
    (device to device, on the stream, after the kernels) from `source` into output `output`.

    source: a KernelArg-like slot: kind input/constant/output -> `index`; workspace -> `offset` bytes.
    """

    output: int
    kind: str
    index: int = -1
    offset: E.Expr = 0
    nbytes: E.Expr = 0

    def to_json(self) -> dict:
        j: dict = {"output": self.output, "kind": self.kind, "nbytes": E.to_json(self.nbytes)}
        if self.kind == "workspace":
            j["offset"] = E.to_json(self.offset)
        else:
            j["index"] = self.index
        return j


@dataclass(frozen=True)
class LaunchPlan:
    kernels: tuple[Kernel, ...]
    buffers: tuple[Buffer, ...] = ()
    constants: tuple[Constant, ...] = ()
    workspace: E.Expr = 0
    copies: tuple[Copy, ...] = ()  # after the kernels

    def to_json(self) -> dict:
        j = {
            "kernels": [k.to_json() for k in self.kernels],
            "buffers": [b.to_json() for b in self.buffers],
            "constants": [c.to_json() for c in self.constants],
            "workspace": E.to_json(self.workspace),
        }
        if self.copies:  # absent when there are none: plans of earlier versions read the same
            j["copies"] = [c.to_json() for c in self.copies]
        return j

    @classmethod
    def from_json(cls, j: dict, dim_names: Sequence[str], constant_data: Callable[[int], bytes]) -> "LaunchPlan":
        """Inverse of `to_json`; constant bytes live beside the JSON and come from `constant_data(i)`."""

        def ex(v):
            return E.from_json(v, dim_names)

        def arg(a: dict) -> KernelArg:
            return KernelArg(a["kind"], a["ctype"], index=a.get("index", -1), offset=ex(a.get("offset", 0)),
                             value=ex(a.get("value", 0)))

        kernels = tuple(Kernel(k["name"], tuple(map(ex, k["grid"])), tuple(map(ex, k["block"])), ex(k["dyn_smem"]),
                               tuple(arg(a) for a in k["args"]),
                               tuple(Guard(ex(g["expr"]), bool(g["zero"])) for g in k.get("when", ())))
                        for k in j["kernels"])
        buffers = tuple(Buffer(ex(b["offset"]), ex(b["size"])) for b in j["buffers"])
        constants = []
        for i, c in enumerate(j["constants"]):
            data = constant_data(i)
            if hashlib.sha256(data).hexdigest() != c["sha256"]:
                raise ValueError(f"constant {i} ({c['name']}) does not match its recorded sha256")
            constants.append(Constant(c["name"], c["dtype"], tuple(c["shape"]), data))
        copies = tuple(Copy(c["output"], c["kind"], c.get("index", -1), ex(c.get("offset", 0)), ex(c["nbytes"]))
                       for c in j.get("copies", ()))
        return cls(kernels, buffers, tuple(constants), ex(j["workspace"]), copies)

    def describe(self, dim_names: Sequence[str]) -> list[str]:
        """One line per kernel launch, for `tpat plan` and logs."""
        lines = []
        for k in self.kernels:
            grid = ", ".join(E.to_str(g) for g in k.grid)
            block = ", ".join(E.to_str(b) for b in k.block)
            when = f" if {' and '.join(g.describe() for g in k.when)}" if k.when else ""
            lines.append(f"{k.name}<<<({grid}), ({block}), {E.to_str(k.dyn_smem)}>>>{when}")
        for c in self.copies:
            source = f"workspace+{E.to_str(c.offset)}" if c.kind == "workspace" else f"{c.kind} {c.index}"
            lines.append(f"copy {E.to_str(c.nbytes)} bytes of {source} into output {c.output}")
        return lines
