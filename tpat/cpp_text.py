"""Text from models made safe for generated C++: string literals, `//` comments, identifiers, include names.

Every string a model carries (dim names, node and tensor names, plugin names from a map) is hostile: a newline in
a `//` comment starts a line of code, a trailing backslash splices the next line into the comment (it once would
have hidden a range check), a quote ends a literal, `\\u` escapes of non-BMP characters do not compile. Templates
therefore never print model text raw: they pass it through one of the filters below, and the template environment
(`tpat.render`) refuses any other interpolated string that contains a character outside plain printable ASCII, a
quote, a backslash or a block-comment marker, so a template that forgets a filter fails at render time instead of
emitting code.
"""

from __future__ import annotations

import re

from markupsafe import Markup

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]*$")
UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]|/\*|\*/')


def c_string(text: object) -> Markup:
    """A C++ string literal holding `text`'s UTF-8 bytes: printable ASCII as is (`"`, `\\` and `?` escaped, the
    last against trigraphs), every other byte as a three-digit octal escape, which cannot swallow the characters
    after it the way `\\x` escapes do."""
    out = []
    for byte in str(text).encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return Markup('"' + "".join(out) + '"')


def c_comment(text: object) -> Markup:
    """`text` for the rest of a `//` comment line: printable ASCII stays, anything else (line breaks, the
    backslash that would splice the next line in, non-ASCII) is written as a visible `\\xNN` / `\\uNNNN`."""
    out = []
    for ch in str(text):
        if 0x20 <= ord(ch) < 0x7F and ch != "\\":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return Markup("".join(out).replace("??", "?\\x3f"))


def c_identifier(text: object) -> str:
    """`text` itself when it is a C identifier; anything else reaching an identifier position is a bug (names are
    sanitised by `tpat.names` long before codegen), so it raises rather than guessing."""
    text = str(text)
    if not _IDENT.match(text):
        raise ValueError(f"not a C identifier: {text!r} (names must pass tpat.names.identifier first)")
    return text


def c_file_name(text: object) -> str:
    """A file name for `#include "..."`, where escapes do not exist: letters, digits, '_' and '.' only."""
    text = str(text)
    if not _FILE.match(text) or ".." in text:
        raise ValueError(f"not a plain file name: {text!r}")
    return text


def guard(value: object) -> object:
    """The environment's `finalize`: every `{{ ... }}` passes here. Filtered text (Markup) and numbers go
    through; a plain string that could break out of a comment or literal is refused."""
    if isinstance(value, str) and not isinstance(value, Markup) and UNSAFE.search(value):
        raise ValueError(f"unescaped text in generated C++: {value[:80]!r}; pass it through c_string, "
                         "c_comment or c_identifier")
    return value


def trusted(text: str) -> Markup:
    """Text tpat or TVM generated (TVM's CUDA source), printed as is: it never holds a model's strings (the
    subgraph TVM sees has tpat's own tensor and node names)."""
    return Markup(text)


FILTERS = {"c_string": c_string, "c_comment": c_comment, "c_identifier": c_identifier, "c_file_name": c_file_name,
           "trusted": trusted}
