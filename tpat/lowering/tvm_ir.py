"""Small readers for TVM 0.27 IR objects, which have no Python visitor.

TVM 0.27 removed `post_order_visit`; objects expose their fields through tvm-ffi reflection instead. We walk
those fields generically and dedupe by the underlying object handle (Python wrappers are temporary, so `id()`
would be reused). Only `tpat.stages.lower` and `tpat.stages.tune` import this module.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping

import tvm

from ..ir import expr as E


def field_names(obj) -> list[str]:
    info = getattr(type(obj), "__tvm_ffi_type_info__", None)
    names: list[str] = []
    while info is not None:
        names = [f.name for f in info.fields] + names
        info = info.parent_type_info
    return names


def walk(obj, descend: Callable[[object], bool] | None = None) -> Iterator[object]:
    """Pre-order walk over an IR tree in field order, i.e. program order for statement sequences. `descend(node)`
    False: the node is yielded but not entered (its caller walks it itself, e.g. once per loop iteration)."""
    seen: set[int] = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, (tvm.ir.Array, list, tuple)):
            stack.extend(reversed(list(o)))
            continue
        if not hasattr(type(o), "__tvm_ffi_type_info__"):
            continue
        handle = o.__chandle__()
        if handle in seen:
            continue
        seen.add(handle)
        yield o
        if descend is not None and not descend(o):
            continue
        children = []
        for name in field_names(o):
            if name == "span":
                continue
            try:
                children.append(getattr(o, name))
            except Exception:  # reflection exposes a few fields that cannot be read back; they hold no code
                continue
        stack.extend(reversed(children))


def key(obj) -> int:
    return obj.__chandle__()


class UnsupportedExpr(Exception):
    """A TIR expression that is not plain integer arithmetic over the dims (rare; reported as a lowering error)."""


_BINOPS = {"Add": "add", "Sub": "sub", "Mul": "mul", "FloorDiv": "floordiv", "FloorMod": "floormod",
           "Max": "max", "Min": "min"}


def to_expr(e, resolve: Callable[[object], E.Expr | None]) -> E.Expr:
    """Convert an integer TIR PrimExpr to a shape expression; `resolve(var)` gives a Var's value or None."""
    kind = type(e).__name__
    if isinstance(e, int):
        return e
    if kind == "IntImm":
        return int(e.value)
    if kind in ("Var", "SizeVar"):
        value = resolve(e)
        if value is None:
            raise UnsupportedExpr(f"free variable {e}")
        return value
    if kind == "Cast":
        return to_expr(e.value, resolve)
    if kind in _BINOPS:
        return E.op(_BINOPS[kind], to_expr(e.a, resolve), to_expr(e.b, resolve))
    if kind in ("Div", "Mod"):  # truncating division: equal to floor division for the non-negative sizes here
        return E.op("floordiv" if kind == "Div" else "floormod", to_expr(e.a, resolve), to_expr(e.b, resolve))
    if kind in _NUMBERS_ONLY:
        # only between numbers (a host loop's trip count at static shapes): shape expressions have no such ops
        a, b = to_expr(e.a, resolve), to_expr(e.b, resolve)
        if not (isinstance(a, int) and isinstance(b, int)):
            raise UnsupportedExpr(f"{kind} of dynamic values: {e}")
        return int(_NUMBERS_ONLY[kind](a, b))
    raise UnsupportedExpr(f"{kind}: {e}")


_NUMBERS_ONLY = {"LT": lambda a, b: a < b, "LE": lambda a, b: a <= b, "GT": lambda a, b: a > b,
                 "GE": lambda a, b: a >= b, "EQ": lambda a, b: a == b, "NE": lambda a, b: a != b,
                 "RShift": lambda a, b: a >> b, "LShift": lambda a, b: a << b}


def resolver(env: Mapping[int, E.Expr]) -> Callable[[object], E.Expr | None]:
    return lambda var: env.get(key(var))
