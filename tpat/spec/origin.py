"""Where a spec came from and where in it a problem is: `Origin` (file, folder, key positions), `SpecIssue` (one
problem at file:line:col), `spec_error` (all of them as one `SpecError`).

Plain data, apart from the wording of pydantic's errors (`issues`), so that resolving a spec -- which finds
problems of its own (a glob matching nothing, two models writing one output) -- needs nothing from the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpecError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecIssue:
    """One problem: where (`file`, 1-based `line`/`col`, None when there is no position), the original pydantic
    `loc` and error `type` (machine-readable, for ``--json``), the dotted `field` shown to people, and the fix."""

    file: str
    line: int | None
    col: int | None
    loc: Loc
    type: str
    message: str
    hint: str | None = None
    field: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.col}"
        name = f" {self.field}:" if self.field else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{name} {self.message}{hint}"

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "loc": list(self.loc), "field": self.field,
                "type": self.type, "message": self.message, "hint": self.hint}


@dataclass
class Pos:
    """1-based position of a node (its key's, for a mapping value) and the positions of its children."""

    line: int
    col: int
    children: dict[Any, Pos] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[Pos, Loc]:
        """The deepest node `loc` reaches, and the segments it matched on the way."""
        node, matched = self, []
        for seg in loc:
            child = node.children.get(seg) if isinstance(seg, (str, int)) else None
            if child is not None:
                node, matched = child, matched + [seg]
        return node, tuple(matched)


@dataclass(frozen=True)
class Origin:
    """Where a spec came from: the name used in messages, the folder relative paths start from, key positions,
    and the absolute file path (None for text that was not read from a file)."""

    file: str
    folder: Path
    tree: Pos | None = None
    path: Path | None = None

    def issue(self, loc: Loc, type: str, message: str, hint: str | None = None) -> SpecIssue:
        if self.tree is None:
            return SpecIssue(self.file, None, None, loc, type, message, hint, dotted(loc))
        pos, matched = self.tree.locate(loc)
        shown = matched + (loc[-1],) if type == "missing" and loc else matched
        return SpecIssue(self.file, pos.line, pos.col, loc, type, message, hint, dotted(shown))


def dotted(loc: Loc) -> str:
    """``models.0.targets.nodes``: the field as people read it (an empty key shows as '')."""
    return ".".join(str(s) if s != "" else "''" for s in loc)


def spec_error(issues: list[SpecIssue]) -> SpecError:
    """A `SpecError` whose message has one line per issue, in file order, and whose `issues` keeps them."""
    ordered = sorted(issues, key=lambda i: (i.line or 0, i.col or 0))
    return SpecError("\n".join(str(i) for i in ordered), issues=ordered)


