"""JSON Schema of the spec, for editors (yaml-language-server) and for `docs/spec.schema.json`.

Regenerate the committed copy after changing `model.py`::

    python -m tpat.spec.schema > docs/spec.schema.json

A test compares the two, so a model change without a regenerated schema fails CI.
Rules that span fields (min <= opt <= max, {stem} in a glob's output) are not expressible here; `load_spec`
checks them.
"""

from __future__ import annotations

import json

from .model import Spec

def spec_schema() -> dict:
    """The schema as a dict: pydantic's validation schema with the draft and a title added."""
    schema = Spec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "tpat spec (config.yaml)", **{k: v for k, v in schema.items() if k != "title"}}


def spec_schema_text() -> str:
    """Stable text: two-space indent, one trailing newline, so regenerating an unchanged model changes nothing."""
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(spec_schema_text(), end="")
