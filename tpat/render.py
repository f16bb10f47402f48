"""Jinja environment over the project's `templates/` folder: all generated C++/CUDA text lives there.

The folder sits beside the package in a source checkout (editable install, PYTHONPATH) and inside it as
`tpat/templates/` in a wheel (setup.py maps it there), so both are looked for, the wheel's place first.
StrictUndefined turns a missing context key into an error at render time instead of an empty string in C++, and
every interpolation passes `tpat.cpp_text.guard`, so model text reaches C++ only escaped.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

_PACKAGE = Path(__file__).resolve().parent
TEMPLATE_PLACES = (_PACKAGE / "templates", _PACKAGE.parent / "templates")  # wheel, source checkout
TEMPLATES_DIR = next((p for p in TEMPLATE_PLACES if p.is_dir()), TEMPLATE_PLACES[0])


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    if not TEMPLATES_DIR.is_dir():  # a broken install: the wheel lost its package data
        raise RuntimeError(f"tpat templates not found in {' or '.join(map(str, TEMPLATE_PLACES))}; reinstall tpat")
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
