"""Names from models are hostile: turn them into C++ identifiers and file names that are always safe.

A plugin name becomes an ONNX op type, a TensorRT creator name, a C++ identifier and a file name, so it is held
to the strictest of those: ASCII letters, digits and '_', not starting with a digit, at most 96 characters.
"""

from __future__ import annotations

import hashlib
import re

MAX_LEN = 96
_INVALID = re.compile(r"[^A-Za-z0-9_]+")
_CPP_KEYWORDS = frozenset(
    "alignas alignof and asm auto bool break case catch char class const constexpr continue decltype default delete "
    "do double else enum explicit export extern false float for friend goto if inline int long mutable namespace new "
    "noexcept not nullptr operator or private protected public register return short signed sizeof static struct "
    "switch template this throw true try typedef typeid typename union unsigned using virtual void volatile while "
    "half dims inputs outputs workspace stream state".split()
)


def identifier(name: str, fallback: str = "node") -> str:
    """A C identifier for `name`: invalid runs become '_', a leading digit gets '_' , long names get a hash."""
    ident = _INVALID.sub("_", name).strip("_") or fallback
    if ident[0].isdigit():
        ident = "_" + ident
    if ident in _CPP_KEYWORDS:
        ident += "_"
    if len(ident) > MAX_LEN:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        ident = f"{ident[: MAX_LEN - 9]}_{digest}"
    return ident


# A plugin's files are <p>.cu, <p>_kernels.cu, <p>_kernels_v<i>.cu, lib<p>_kernels.so, <p>.so...: a plugin named
# `a_kernels` would write plugin `a`'s files. No plugin name ends like that, so no two plugins share a file.
RESERVED_SUFFIX = re.compile(r"_kernels(_v\d+)?$")


def default_plugin_name(node_name: str, op_type: str, index: int) -> str:
    """TPAT's convention, `tpat_<node_name>`, sanitised; nameless nodes use their op type and position."""
    base = node_name if node_name else f"{op_type}_{index}"
    name = identifier(f"tpat_{base}")
    return with_hash(name, base) if RESERVED_SUFFIX.search(name) else name


def with_hash(name: str, salt: str) -> str:
    """`name` made distinct by a short hash of `salt` (the node's own name): the same node always gets the same
    suffix, so plugin names stay stable from run to run."""
    digest = hashlib.sha256(salt.encode()).hexdigest()[:6]
    return f"{name[: MAX_LEN - 7]}_{digest}"
