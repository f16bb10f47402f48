"""Model text in generated C++: the escaping filters and the render guard that makes them mandatory."""

from __future__ import annotations

import subprocess

import jinja2
import pytest

from hostile import HOSTILE
from tpat.cpp_text import c_comment, c_string
from tpat.render import environment


def test_guard_refuses_raw_model_text():
    env = environment()
    for text in HOSTILE:
        with pytest.raises(ValueError, match="unescaped text"):
            env.from_string("// {{ x }}").render(x=text)
        line = env.from_string("// {{ x | c_comment }}").render(x=text)
        assert "\n" not in line and "\r" not in line and not line.endswith("\\")
        literal = env.from_string("{{ x | c_string }}").render(x=text)
        assert "\n" not in literal and literal.startswith('"') and literal.endswith('"')


def test_string_literals_hold_the_exact_bytes(tmp_path):
    """g++ prints each literal back: the bytes are the UTF-8 of the original text, nothing more, nothing less."""
    body = "\n".join(f"  std::printf(\"%zu:\", sizeof({c_string(t)}) - 1); "
                     f"std::fwrite({c_string(t)}, 1, sizeof({c_string(t)}) - 1, stdout);" for t in HOSTILE)
    src = tmp_path / "lit.cpp"
    src.write_text(f"#include <cstdio>\nint main() {{\n{body}\n}}\n")
    exe = tmp_path / "lit"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    printed = []
    while out:
        size, _, out = out.partition(b":")
        printed.append(out[:int(size)])
        out = out[int(size):]
    assert printed == [t.encode() for t in HOSTILE]


def test_comments_stay_on_one_line():
    for text in HOSTILE:
        line = str(c_comment(text))
        assert all(0x20 <= ord(c) < 0x7F for c in line), line
        assert not line.endswith("\\") and "??" not in line


def test_a_template_that_forgets_the_filter_fails_to_render():
    env = environment()
    template = env.from_string('constexpr char kLabel[] = "{{ label }}";')
    with pytest.raises(ValueError, match="unescaped text"):
        template.render(label=HOSTILE[1])
    assert isinstance(env, jinja2.Environment)
