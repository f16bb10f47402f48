"""Jinja environment over the project's `templates/` folder: all generated C++/CUDA text lives there.

StrictUndefined turns a missing context key into an error at render time instead of an empty string in C++, and
every interpolation passes `tpat.cpp_text.guard`, so model text reaches C++ only escaped.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    if not TEMPLATES_DIR.is_dir():
        raise RuntimeError(
            f"tpat templates not found at {TEMPLATES_DIR}; install tpat from its source tree (pip install -e .)"
        )
    return cpp_environment(jinja2.FileSystemLoader(str(TEMPLATES_DIR)))


def cpp_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The settings every C++ template is rendered with: model text only through the filters of `cpp_text`
    (`guard` refuses anything else that could leave a comment or literal)."""
    from .cpp_text import FILTERS, guard

    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False, finalize=guard)
    env.filters.update(FILTERS)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def templates_digest() -> str:
    """sha256 over every template file: part of every codegen cache key."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(TEMPLATES_DIR.rglob("*.j2")):
        h.update(p.relative_to(TEMPLATES_DIR).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
