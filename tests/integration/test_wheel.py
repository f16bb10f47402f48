"""A wheel (non-editable) install carries what tpat reads at run time: the templates and the checker's source.

Built by pip from a copy of the source tree (no build output lands in the checkout), installed into a folder of its
own, and imported from there by a child process that renders every template.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tpat.render import TEMPLATES_DIR, templates_digest
from workflow_helpers import ROOT

SOURCES = ("tpat", "templates", "setup.py", "pyproject.toml", "README.md")


@pytest.mark.slow
def test_wheel_ships_templates_and_renders_from_them(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    proc = subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("tpat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = sorted(p.name for p in TEMPLATES_DIR.glob("*.j2"))
    assert templates and {f"tpat/templates/{t}" for t in templates} <= names
    assert "tpat/trt/checker/rtx_check.cpp" in names

    site = tmp_path / "site"
    proc = subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    probe = ("import json, tpat.render as r; env = r.environment(); "
             "[env.get_template(t) for t in env.list_templates()]; "
             "print(json.dumps([str(r.TEMPLATES_DIR), r.templates_digest(), sorted(env.list_templates())]))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr
    where, digest, listed = json.loads(proc.stdout)
    assert where == str(site / "tpat" / "templates")
    assert digest == templates_digest() and listed == templates
