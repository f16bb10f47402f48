"""Integer shape expressions over named dims (``batch * 128``, ``(batch + 7) // 8``).

Grid sizes, workspace sizes and output shapes are read from TVM's IR as expressions of the dynamic dims, so one
kernel serves the whole range. They travel as plain JSON and are rendered three ways: as C (the launcher), as
TensorRT ``IExprBuilder`` calls (``getOutputShapes``) and evaluated in Python (validation, tests).

JSON form, chosen so Jinja templates can walk it without helpers:
    an int                       -> the constant
    {"dim": i}                   -> dynamic dim number i of the signature
    {"op": "add", "args": [a,b]} -> ops: add sub mul floordiv ceildiv floormod max min
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

OPS = ("add", "sub", "mul", "floordiv", "ceildiv", "floormod", "max", "min")


@dataclass(frozen=True)
class Dim:
    index: int
    name: str


@dataclass(frozen=True)
class BinOp:
    op: str
    a: "Expr"
    b: "Expr"


Expr = Union[int, Dim, BinOp]


def _floordiv(a: int, b: int) -> int:
    return a // b


def _ceildiv(a: int, b: int) -> int:
    return -((-a) // b)


_EVAL = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "floordiv": _floordiv,
    "ceildiv": _ceildiv,
    "floormod": lambda a, b: a % b,
    "max": max,
    "min": min,
}


def op(name: str, a: Expr, b: Expr) -> Expr:
    """Build ``a <name> b``, folding constants and the neutral elements so printed plans stay readable."""
    if name not in _EVAL:
        raise ValueError(f"unknown shape op {name!r}")
    if isinstance(a, int) and isinstance(b, int):
        return _EVAL[name](a, b)
    if name == "mul" and (a == 1 or b == 1):
        return b if a == 1 else a
    if name == "mul" and (a == 0 or b == 0):
        return 0
    if name in ("add", "sub") and b == 0:
        return a
    if name == "add" and a == 0:
        return b
    if name in ("floordiv", "ceildiv") and b == 1:
        return a
    return BinOp(name, a, b)


def evaluate(e: Expr, dims: Sequence[int]) -> int:
    if isinstance(e, int):
        return e
    if isinstance(e, Dim):
        return int(dims[e.index])
    return _EVAL[e.op](evaluate(e.a, dims), evaluate(e.b, dims))


def substitute(e: Expr, values: Mapping[str, int]) -> Expr:
    """`e` with the named dims replaced by numbers (re-folded)."""
    if isinstance(e, int):
        return e
    if isinstance(e, Dim):
        return values.get(e.name, e)
    return op(e.op, substitute(e.a, values), substitute(e.b, values))


def dims_used(e: Expr) -> set[int]:
    if isinstance(e, int):
        return set()
    if isinstance(e, Dim):
        return {e.index}
    return dims_used(e.a) | dims_used(e.b)


def to_json(e: Expr):
    if isinstance(e, int):
        return e
    if isinstance(e, Dim):
        return {"dim": e.index}
    return {"op": e.op, "args": [to_json(e.a), to_json(e.b)]}


def from_json(j, dim_names: Sequence[str]) -> Expr:
    if isinstance(j, bool):
        raise ValueError("a shape expression cannot be a boolean")
    if isinstance(j, int):
        return j
    if isinstance(j, dict) and "dim" in j:
        return Dim(int(j["dim"]), dim_names[int(j["dim"])])
    if isinstance(j, dict) and j.get("op") in _EVAL:
        a, b = j["args"]
        return BinOp(j["op"], from_json(a, dim_names), from_json(b, dim_names))
    raise ValueError(f"not a shape expression: {j!r}")


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "floormod": "%"}


def to_str(e: Expr) -> str:
    """Human form, used in `tpat plan`, manifests and error messages."""
    if isinstance(e, int):
        return str(e)
    if isinstance(e, Dim):
        return e.name
    if e.op in _SYMBOL:
        return f"({to_str(e.a)} {_SYMBOL[e.op]} {to_str(e.b)})"
    return f"{e.op}({to_str(e.a)}, {to_str(e.b)})"


_AST_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "floordiv", ast.Mod: "floormod"}


def parse(text: str, dim_names: Sequence[str]) -> Expr:
    """Parse the human form back (``"(batch + 7) // 8"``, ``"max(batch, 4)"``); for tests and specs."""
    index: Mapping[str, int] = {n: i for i, n in enumerate(dim_names)}

    def walk(node: ast.AST) -> Expr:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name) and node.id in index:
            return Dim(index[node.id], node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
            return op(_AST_OPS[type(node.op)], walk(node.left), walk(node.right))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("max", "min", "ceildiv")
            and len(node.args) == 2
        ):
            return op(node.func.id, walk(node.args[0]), walk(node.args[1]))
        raise ValueError(f"cannot read shape expression {text!r} (dims: {', '.join(dim_names) or 'none'})")

    return walk(ast.parse(text, mode="eval").body)
