"""Task keys hash every tpat module the task bodies import, so editing any code that shapes outputs reruns tasks."""

from __future__ import annotations

import shutil

from tpat.cache.code_closure import PACKAGE_DIR, closure, closure_digest, import_graph
from tpat.cache.keys import TASK_MODULES


def _rel(paths):
    return {p.relative_to(PACKAGE_DIR).as_posix() for p in paths}


def test_closure_covers_the_task_bodies_and_what_they_call():
    files = _rel(closure(TASK_MODULES))
    # the executor's own output-shaping code, every stage that runs as a task, the templates' renderer
    assert {"executor/chain.py", "stages/lower.py", "stages/codegen.py", "stages/build.py", "render.py",
            "schedules/pipeline.py", "ir/launch_plan.py"} <= files
    # the CLI and the spec do not shape a task's output
    assert not any(f.startswith(("cli/", "spec/")) for f in files)


def test_editing_code_in_the_closure_changes_the_digest(tmp_path):
    root = tmp_path / "tpat"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = closure_digest(TASK_MODULES, root)
    with open(root / "cli" / "main.py", "a") as f:
        f.write("\n# a comment outside the closure\n")
    assert closure_digest(TASK_MODULES, root) == before
    for edited in ("executor/chain.py", "render.py"):
        with open(root / edited, "a") as f:
            f.write("\n# changed\n")
        after = closure_digest(TASK_MODULES, root)
        assert after != before, edited
        before = after


def test_import_graph_reads_function_level_imports():
    graph = import_graph()
    assert "tpat.stages.lower" in graph["tpat.executor.chain"]  # imported inside a function
    assert "tpat.stages.codegen" in graph["tpat.executor.chain"]
