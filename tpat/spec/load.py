"""YAML text -> `Spec`, with every problem reported as ``file:line:col``.

The text is parsed once: the composer gives the node tree (with marks), the constructor turns it into plain data,
and a `Pos` tree of key positions is kept alongside for error messages (see `issues`). pydantic then validates
the data; each of its errors is placed by walking its ``loc`` down that tree.

The loader reads YAML 1.2-style scalars rather than PyYAML's YAML 1.1 defaults, because the 1.1 rules turn
plausible node names and values into something else without a word: ``no``/``on`` become booleans,
``2024-01-01`` a date, ``017`` the number 15, and ``1e-5`` stays a string. It also refuses duplicate keys,
which PyYAML would otherwise resolve silently by keeping the last one.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .issues import issue_from_pydantic
from .origin import Loc, Origin, Pos, SpecIssue, dotted, spec_error
from .model import Spec

_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_TIMESTAMP, _MERGE = "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"

_CORE_RESOLVERS = [
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^[-+]?[0-9]+$", "-+0123456789"),
    (_FLOAT, r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
]


def _without_yaml11_scalars() -> dict:
    """SafeLoader's implicit resolvers minus bool/int/float/timestamp, copied so SafeLoader itself is untouched."""
    dropped = {_BOOL, _INT, _FLOAT, _TIMESTAMP}
    table = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, rx) for tag, rx in entries if tag not in dropped]
        if kept:
            table[first] = kept
    return table


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, duplicate-key detection and a record of each mapping's entries."""

    yaml_implicit_resolvers = _without_yaml11_scalars()

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any, yaml.Mark]] = []  # (id of the mapping node, key, mark)
        self.entries: dict[int, list[tuple[Any, yaml.Node, yaml.Node]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self._note_duplicates(node)
        mapping = super().construct_mapping(node, deep=deep)  # also folds in `<<` merge keys
        self.entries[id(node)] = [(self.construct_object(k), k, v) for k, v in node.value]
        return mapping

    def _note_duplicates(self, node: yaml.MappingNode) -> None:
        """Record every key written twice in one mapping (keys brought in by ``<<`` may be overridden)."""
        if not isinstance(node, yaml.MappingNode):
            return  # the base constructor reports a non-mapping with its mark
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    self.duplicates.append((id(node), key, key_node.start_mark))
                seen.add(key)
            except TypeError:  # unhashable key: the base constructor reports it with its mark
                pass

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """Decimal even with a leading zero (YAML 1.2: ``017`` is 17); explicit ``!!int 0x1f`` still works."""
        text = self.construct_scalar(node)
        return int(text) if re.fullmatch(r"[-+]?[0-9]+", text) else super().construct_yaml_int(node)


for _tag, _pattern, _first in _CORE_RESOLVERS:
    SpecLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
SpecLoader.add_constructor(_INT, SpecLoader.construct_yaml_int)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; relative paths in it resolve against its folder.

    Raises `SpecError` (from `tpat.errors`) listing every problem as ``file:line:col: field: message (hint: ...)``::

        spec = load_spec("config.yaml")
        for model in resolve_spec(spec).models: ...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_error(path, "file_not_found", "spec file not found",
                          "check the path; a relative one starts at the current directory") from None
    except IsADirectoryError:
        raise _file_error(path, "is_a_directory", "is a folder, not a spec file", "name the YAML file itself") from None
    except UnicodeDecodeError as e:
        raise _file_error(path, "not_utf8", f"is not UTF-8 text ({e.reason})", "save the file as UTF-8") from None
    except OSError as e:
        raise _file_error(path, "unreadable", f"cannot be read ({e.strerror})", "check its permissions") from None
    return _load(text, Origin(str(path), path.resolve().parent, path=path.resolve()))


def load_spec_text(text: str, filename: str = "<string>", folder: str | Path | None = None) -> Spec:
    """Validate spec text. `filename` appears in messages; `folder` (default: the current one) anchors paths."""
    return _load(text, Origin(filename, Path(folder).resolve() if folder is not None else Path.cwd()))


def spec_from_data(data: dict, what: str, folder: str | Path | None = None) -> Spec:
    """Validate a spec built in code (the Python API's arguments): the same rules as a file, `what` names the
    source in messages."""
    return _validated(data, Origin(what, Path(folder).resolve() if folder is not None else Path.cwd()))


def _load(text: str, origin: Origin) -> Spec:
    data, tree = parse_yaml(text, origin.file)
    origin = dataclasses.replace(origin, tree=tree)
    if data is None:
        raise spec_error([origin.issue((), "empty_spec", "the spec is empty",
                                       "start with 'version: 1' and a 'models:' list")])
    return _validated(data, origin)


def _validated(data, origin: Origin) -> Spec:
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        raise spec_error(_dedupe([issue_from_pydantic(err, origin) for err in e.errors()])) from None
    spec._origin = origin
    return spec


def parse_yaml(text: str, filename: str) -> tuple[Any, Pos]:
    """Plain data plus its position tree. YAML errors and duplicate keys become a `SpecError`."""
    loader = None
    try:
        loader = SpecLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, Pos(1, 1)
        data = loader.construct_document(root)
        paths: dict[int, Loc] = {}
        tree = _tree(loader, root, root.start_mark, (), paths)
    except yaml.MarkedYAMLError as e:
        raise spec_error([_syntax_issue(filename, e)]) from None
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        raise spec_error([SpecIssue(filename, line, col, (), "yaml_syntax", _lower(str(e).split("\n")[0]),
                                    "remove the control character")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.duplicates:
        raise spec_error([_duplicate_issue(filename, paths.get(node_id, ()) + (key,), mark)
                          for node_id, key, mark in loader.duplicates])
    return data, tree


def _tree(loader: SpecLoader, node: yaml.Node, mark: yaml.Mark, loc: Loc, paths: dict[int, Loc]) -> Pos:
    """Positions paralleling the data: a mapping's children sit at their keys, a list's at their items.

    `paths` records each node's ``loc`` as it is visited; a node seen before (an alias) is not entered again,
    so a recursive alias (``&a [*a]``) ends instead of looping.
    """
    pos = Pos(mark.line + 1, mark.column + 1)
    if id(node) in paths:
        return pos
    paths[id(node)] = loc
    if isinstance(node, yaml.MappingNode):
        for key, key_node, value_node in loader.entries.get(id(node), ()):
            pos.children[key] = _tree(loader, value_node, key_node.start_mark, loc + (key,), paths)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            pos.children[i] = _tree(loader, item, item.start_mark, loc + (i,), paths)
    return pos


def _duplicate_issue(filename: str, loc: Loc, mark: yaml.Mark) -> SpecIssue:
    return SpecIssue(filename, mark.line + 1, mark.column + 1, loc, "duplicate_key", f"duplicate key '{loc[-1]}'",
                     "each key may appear once per mapping; delete or merge the repeated one", dotted(loc))


def _syntax_issue(filename: str, e: yaml.MarkedYAMLError) -> SpecIssue:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or "invalid YAML"
    if e.context and problem.startswith("but "):  # "expected a single document", "but found another"
        message = f"{e.context}, {problem}"
    elif e.context and e.context_mark:
        message = f"{_lower(problem)} ({e.context} at line {e.context_mark.line + 1})"
    else:
        message = _lower(problem)
    if "\\t" in problem or "tab" in problem:
        hint = "indent with spaces; YAML does not allow tabs"
    elif "document" in problem:
        hint = "a spec is a single YAML document: remove the '---' line and what follows, or split the file"
    else:
        hint = "check the indentation and quoting on this line and the line before"
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return SpecIssue(filename, line, col, (), "yaml_syntax", message, hint)


def _file_error(path: Path, kind: str, message: str, hint: str):
    return spec_error([SpecIssue(str(path), None, None, (), kind, message, hint)])


def _dedupe(issues: list[SpecIssue]) -> list[SpecIssue]:
    """One issue per (loc, type), and no "must not be empty" for a list whose entries failed: pydantic counts
    only the valid entries, so a single bad model would also report `models` as empty."""
    failed_inside = {i.loc[:n] for i in issues for n in range(len(i.loc))}
    seen, kept = set(), []
    for issue in issues:
        if issue.type == "too_short" and issue.loc in failed_inside:
            continue
        if (issue.loc, issue.type) not in seen:
            seen.add((issue.loc, issue.type))
            kept.append(issue)
    return kept


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
