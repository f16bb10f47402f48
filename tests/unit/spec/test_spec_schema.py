"""The committed JSON Schema must match the models.

Regenerate with `python -m tpat.spec.schema > docs/spec.schema.json`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tpat.spec.schema import spec_schema, spec_schema_text

COMMITTED = Path(__file__).parents[3] / "docs" / "spec.schema.json"


def test_committed_schema_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == spec_schema_text(), (
        "docs/spec.schema.json is stale: run `python -m tpat.spec.schema > docs/spec.schema.json`")


def test_module_prints_the_schema():
    out = subprocess.run([sys.executable, "-m", "tpat.spec.schema"], capture_output=True, text=True, check=True)
    assert out.stdout == spec_schema_text() and out.stderr == ""


def test_schema_forbids_unknown_keys_everywhere():
    schema = spec_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(o.get("additionalProperties") is False for o in objects if o.get("type") == "object")
    assert schema["required"] == ["version", "models"]
    assert json.loads(spec_schema_text()) == schema


def test_documented_example_is_valid():
    """docs/spec.md's annotated example must load (paths are not resolved: its models need not exist)."""
    from tpat.spec import load_spec_text

    doc = (COMMITTED.parent / "spec.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_spec_text(example, "spec.md")
    assert spec.version == 1 and len(spec.models) >= 1
