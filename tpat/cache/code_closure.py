"""Which of tpat's own source files a task's output can depend on: the static import closure of the task bodies.

A task key must change whenever code that shapes the task's output changes, or the cache serves stale entries.
Listing folders by hand ("stages, schedules, ir, gpu") missed the executor's own output-shaping code, so the set
is computed instead: every tpat module reachable by an import statement (top level or inside a function) from the
modules that run tasks. Reading the AST never imports anything, so planning stays TVM-free and fast.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "tpat"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def module_file(module: str, root: Path = PACKAGE_DIR) -> Path | None:
    """`tpat.stages.lower` -> .../tpat/stages/lower.py (or the package's __init__.py); None if not tpat's."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE_DIR) -> set[str]:
    """tpat modules that `path` imports anywhere in its body (``from x import y`` counts `x.y` when that is a
    module, and `x` when some name comes from `x` itself)."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            submodules = {f"{origin}.{alias.name}" for alias in node.names}
            found.update(submodules)
            if any(module_file(m, root) is None for m in submodules):  # a name from the module itself
                found.add(origin)
    return {m for m in found if module_file(m, root) is not None}


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Every tpat module and the tpat modules it imports."""
    return {_module_name(p, root): imports_of(p, root) for p in sorted(root.rglob("*.py"))}


def closure(roots: tuple[str, ...], root: Path = PACKAGE_DIR) -> list[Path]:
    """The files of `roots` and of every tpat module they reach through import statements, sorted. A package's
    __init__ counts only where it is imported by name (`from ..cache import CacheStore`): the code it merely runs
    on the way to a submodule does not shape what that submodule computes."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module_file(module, root)
        if path is not None:
            todo.extend(imports_of(path, root) - seen)
    return sorted(p for p in (module_file(m, root) for m in seen) if p is not None)


def closure_digest(roots: tuple[str, ...], root: Path = PACKAGE_DIR) -> str:
    """sha256 over the relative path and bytes of every file in the closure of `roots`."""
    h = hashlib.sha256()
    for p in closure(roots, root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
