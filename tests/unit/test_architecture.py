"""The shape of the package, enforced: modules of one concept (at most 400 lines), no import of the package root
below its face, no import cycle between modules (imports inside functions count too), planning free of TVM."""

from __future__ import annotations

import subprocess
import sys

from tpat.cache.code_closure import PACKAGE_DIR, import_graph

MAX_LINES = 400
FACE = {"tpat"}  # the package root itself re-exports the API; nothing below may import it


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE_DIR)): n for p in PACKAGE_DIR.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (one concept each): {long}"


def test_nothing_below_the_face_imports_the_package_root():
    graph = import_graph()
    offenders = sorted(m for m, deps in graph.items() if "tpat" in deps and m not in FACE)
    assert not offenders, offenders


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_planning_and_the_cli_import_no_tvm():
    """`tpat plan` must answer in about a second: neither its modules nor --help may import TVM."""
    code = ("import sys, tpat.cli.main, tpat.planner.build, tpat.workflow, tpat.spec;"
            "tpat.cli.main.build_parser();"
            "print(sorted(m for m in sys.modules if m == 'tvm' or m.startswith('tvm.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
