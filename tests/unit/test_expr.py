import pytest

from tpat.ir import expr as E
from tpat.render import environment

NAMES = ["batch", "seq"]


@pytest.mark.parametrize("text, dims, value", [
    ("batch * 128", [3, 0], 384),
    ("(batch + 7) // 8", [9, 0], 2),
    ("ceildiv(batch * 5, 512)", [300, 0], 3),
    ("batch % 4 + seq", [10, 5], 7),
    ("max(batch, seq) - min(batch, seq)", [2, 9], 7),
])
def test_parse_evaluate_and_json_roundtrip(text, dims, value):
    e = E.parse(text, NAMES)
    assert E.evaluate(e, dims) == value
    assert E.from_json(E.to_json(e), NAMES) == e
    assert E.evaluate(E.parse(E.to_str(e), NAMES), dims) == value


def test_constant_folding_keeps_plans_readable():
    b = E.Dim(0, "batch")
    assert E.op("mul", b, 1) == b
    assert E.op("add", 0, b) == b
    assert E.op("mul", 4, 8) == 32
    assert E.op("floordiv", b, 1) == b


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="cannot read shape expression"):
        E.parse("tokens * 2", NAMES)


def test_c_rendering_matches_python_floor_semantics(tmp_path):
    """The C macro must agree with Python for negative operands too (TVM's floordiv/floormod)."""
    import subprocess

    exprs = ["(batch - 10) // 3", "(batch - 10) % 3", "ceildiv(batch - 10, 4)", "max(batch, seq) * 2"]
    macro = environment().from_string('{% import "_expr.j2" as ex %}{{ ex.c(e, "dims") }}')
    body = "\n".join(f'  printf("%lld\\n", (long long)({macro.render(e=E.to_json(E.parse(t, NAMES)))}));'
                     for t in exprs)
    helpers = environment().get_template("_shape_helpers.h.j2").render()
    src = tmp_path / "t.cpp"
    src.write_text(
        "#include <cstdint>\n#include <cstdio>\n" + helpers +
        f"int main() {{ const int64_t dims[2] = {{3, 5}};\n{body}\n  return 0; }}\n")
    exe = tmp_path / "t"
    subprocess.run(["g++", "-std=c++17", str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [E.evaluate(E.parse(t, NAMES), [3, 5]) for t in exprs]
