"""pydantic's errors about a spec as `file:line:col` issues (`origin.SpecIssue`): positions, wording and hints.

pydantic reports *what* is wrong as a ``loc`` tuple; the YAML node tree knows *where*. `Pos` is a tree of
1-based positions that parallels the data (keys and list indices, like ``loc``), so an error is placed by walking
its ``loc`` down the tree. A mapping entry is placed at its key, a list item at the item, a missing key at the
mapping that lacks it. Segments that are not in the tree (union members, ``[key]``) are skipped, which always
lands on the nearest real node instead of guessing.

Messages are reworded for people who write YAML, not Python ("expected a list", not "valid tuple"), and
every kind of error gets a hint that says how to fix it.
"""

from __future__ import annotations

import difflib
import typing
from types import NoneType, UnionType
from typing import Any, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ..arch import ARCH_PATTERN
from .model import Settings, Spec
from .origin import Loc, Origin, SpecIssue


def issue_from_pydantic(err: ErrorDetails, origin: Origin) -> SpecIssue:
    loc, kind = tuple(err["loc"]), err["type"]
    return origin.issue(loc, kind, _message(err), _hint(err))


# -- wording -------------------------------------------------------------------------------------------------

_EXPECTED = {
    "model_type": "a mapping", "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list",
    "string_type": "a string", "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_type": "true or false", "float_type": "a number",
}


def show(value: Any) -> str:
    """A value as the user wrote it in YAML, with its kind when that explains the error."""
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if isinstance(value, str):
        return f"'{value}' (a string)"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _message(err: ErrorDetails) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    key = err["loc"][-1] if err["loc"] else ""
    if kind == "extra_forbidden":
        return f"unknown key '{key}'"
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {show(value)}"
    if kind == "literal_error":
        return f"{show(value)} is not allowed"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}, got {value}"
    if kind == "string_pattern_mismatch":
        return f"'{value}' does not have the form {ctx['pattern']}"
    msg = err["msg"]
    return msg[:1].lower() + msg[1:]


def _hint(err: ErrorDetails) -> str | None:
    kind, ctx, value, loc = err["type"], err.get("ctx") or {}, err.get("input"), tuple(err["loc"])
    if "hint" in ctx:
        return ctx["hint"]
    if kind == "extra_forbidden":
        return _unknown_key_hint(loc)
    if kind == "missing":
        return _missing_hint(loc)
    if value is None and kind in _EXPECTED:
        return "an empty value is null in YAML: write a value" + _or_delete(loc)
    if kind in _EXPECTED:
        return _type_hint(kind, value)
    if kind == "literal_error":
        return f"allowed: {ctx['expected']}"
    if kind == "too_short":
        return "list at least one entry" + _or_delete(loc)
    if kind == "string_too_short":
        return "give a non-empty string"
    if kind == "greater_than_equal":
        return f"use a whole number >= {ctx['ge']}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == ARCH_PATTERN:
        return "write sm_ and the compute capability, e.g. sm_80, sm_89, sm_90a"
    return None


def _type_hint(kind: str, value: Any) -> str:
    if kind == "bool_type" and isinstance(value, str):
        return "write true or false; yes/no/on/off are read as plain strings"
    if kind in ("int_type", "float_type") and isinstance(value, str):
        return "remove the quotes" if _is_number(value) else f"write {_EXPECTED[kind]} without quotes"
    if kind == "string_type":
        return "put quotes around it so YAML reads it as a string"
    if kind in ("tuple_type", "list_type"):
        return "write a list: [a, b] or one '- a' line per entry"
    if kind in ("model_type", "dict_type"):
        return "write 'key: value' lines indented under this key"
    return f"write {_EXPECTED[kind]}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _unknown_key_hint(loc: Loc) -> str:
    model = model_at(loc[:-1])
    allowed = [f.alias or name for name, f in model.model_fields.items()] if model else []
    key = str(loc[-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if model is Spec and key in {f.alias or n for n, f in Settings.model_fields.items()}:
        return f"'{key}' is a per-model setting: put it under 'defaults:' or in a model entry"
    return "allowed keys: " + ", ".join(allowed) if allowed else "remove this key"


def _or_delete(loc: Loc) -> str:
    """Deleting the key is a fix only where the field has a default."""
    info = _field_info(loc)
    return " or delete the key to use the default" if info is not None and not info.is_required() else ""


def _field_info(loc: Loc) -> FieldInfo | None:
    model = model_at(loc[:-1]) if loc else None
    return next((f for n, f in model.model_fields.items() if (f.alias or n) == loc[-1]), None) if model else None


def _missing_hint(loc: Loc) -> str:
    key, info = loc[-1], _field_info(loc)
    what = f" ({info.description})" if info and info.description else ""
    return f"add '{key}:'{what}"


def model_at(loc: Loc, root: type[BaseModel] = Spec) -> type[BaseModel] | None:
    """The pydantic model class that validates the value at `loc`, found by following type annotations."""
    tp: Any = root
    for seg in loc:
        tp = _step(tp, seg)
        if tp is None:
            return None
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _strip(tp: Any) -> Any:
    """Drop Annotated and Optional wrappers; other unions are left alone (the spec has none)."""
    if typing.get_origin(tp) is typing.Annotated:
        return _strip(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (Union, UnionType):
        args = [a for a in typing.get_args(tp) if a is not NoneType]
        return _strip(args[0]) if len(args) == 1 else tp
    return tp


def _step(tp: Any, seg: str | int) -> Any:
    tp, origin = _strip(tp), typing.get_origin(_strip(tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return next((f.annotation for n, f in tp.model_fields.items() if (f.alias or n) == seg), None)
    if origin in (tuple, list) and isinstance(seg, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None
