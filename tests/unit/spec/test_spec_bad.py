"""Bad specs: each must be reported at the exact line, with the field path and a hint that says what to do."""

from __future__ import annotations

import json

import pytest

from tpat.errors import SpecError, TpatError
from tpat.spec import SpecIssue, load_spec, load_spec_text

OK_MODEL = "models:\n  - path: m.onnx\n    targets: {nodes: [a]}\n"

# (id, yaml, line, col, field, type, text expected in the hint)
CASES = [
    ("unknown top-level key", "version: 1\nmodelz: []\n" + OK_MODEL,
     2, 1, "modelz", "extra_forbidden", "did you mean 'models'?"),
    ("setting at top level", "version: 1\ndtype: fp16\n" + OK_MODEL,
     2, 1, "dtype", "extra_forbidden", "put it under 'defaults:'"),
    ("typo in targets", "version: 1\nmodels:\n  - path: m.onnx\n    targets:\n      nodez: [a]\n",
     5, 7, "models.0.targets.nodez", "extra_forbidden", "did you mean 'nodes'?"),
    ("version 2", "version: 2\n" + OK_MODEL,
     1, 1, "version", "unsupported_version", "version: 1"),
    ("version as string", "version: '1'\n" + OK_MODEL,
     1, 1, "version", "int_type", "remove the quotes"),
    ("min > max", "version: 1\ndefaults:\n  dynamic:\n    batch: {min: 8, opt: 8, max: 2}\n" + OK_MODEL,
     4, 5, "defaults.dynamic.batch", "dim_order", "min <= opt <= max"),
    ("opt outside", "version: 1\n" + OK_MODEL + "    dynamic:\n      seq:\n        {min: 1, opt: 600, max: 512}\n",
     6, 7, "models.0.dynamic.seq", "dim_order", "min <= opt <= max"),
    ("dim of zero", "version: 1\ndefaults:\n  dynamic:\n    batch: {min: 0, opt: 1, max: 2}\n" + OK_MODEL,
     4, 13, "defaults.dynamic.batch.min", "greater_than_equal", ">= 1"),
    ("negative trials", "version: 1\ndefaults:\n  tuning:\n    trials: -1\n" + OK_MODEL,
     4, 5, "defaults.tuning.trials", "greater_than_equal", ">= 0"),
    ("negative per_op trials", "version: 1\ndefaults:\n  tuning: {per_op: {Softmax: -2}}\n" + OK_MODEL,
     3, 21, "defaults.tuning.per_op.Softmax", "greater_than_equal", ">= 0"),
    ("bad arch", "version: 1\ndefaults:\n  arch: [sm_80, sm90]\n" + OK_MODEL,
     3, 17, "defaults.arch.1", "string_pattern_mismatch", "sm_80, sm_89, sm_90a"),
    ("arch twice", "version: 1\ndefaults:\n  arch:\n    - sm_90\n    - sm_90\n" + OK_MODEL,
     3, 3, "defaults.arch", "duplicate_item", "remove the repeated entry"),
    ("empty models", "version: 1\nmodels: []\n",
     2, 1, "models", "too_short", "at least one entry"),
    ("null models", "version: 1\nmodels:\n",
     2, 1, "models", "tuple_type", "null"),
    ("no targets", "version: 1\nmodels:\n  - path: m.onnx\n    targets: {nodes: []}\n",
     4, 5, "models.0.targets", "no_targets", "nodes, op_types, plugins"),
    ("missing path", "version: 1\nmodels:\n  - output: x.onnx\n    targets: {nodes: [a]}\n",
     3, 5, "models.0", "model_source", "path: model.onnx, or torch:"),
    ("missing version", OK_MODEL,
     1, 1, "version", "missing", "add 'version:'"),
    ("duplicate key", "version: 1\nmodels:\n  - path: m.onnx\n    targets: {nodes: [a]}\n    targets: {nodes: [b]}\n",
     5, 5, "models.0.targets", "duplicate_key", "once per mapping"),
    ("yaml syntax", "version: 1\nmodels:\n  - path: m.onnx\n   targets: {nodes: [a]}\n",
     4, 4, "", "yaml_syntax", "indentation"),
    ("tab indent", "version: 1\nmodels:\n\t- path: m.onnx\n",
     3, 1, "", "yaml_syntax", "tabs"),
    ("jobs as string", "version: 1\nexecutor:\n  jobs: \"2\"\n" + OK_MODEL,
     3, 3, "executor.jobs", "int_type", "remove the quotes"),
    ("jobs as word", "version: 1\nexecutor: {jobs: two}\n" + OK_MODEL,
     2, 12, "executor.jobs", "int_type", "whole number"),
    ("jobs zero", "version: 1\nexecutor: {jobs: 0}\n" + OK_MODEL,
     2, 12, "executor.jobs", "greater_than_equal", ">= 1"),
    ("executor kind", "version: 1\nexecutor: {kind: ray}\n" + OK_MODEL,
     2, 12, "executor.kind", "literal_error", "'local' or 'dask'"),
    ("scheduler address for local processes", "version: 1\nexecutor:\n  address: tcp://sched:8786\n" + OK_MODEL,
     2, 1, "executor", "address_without_dask", "set kind: dask"),
    ("dtype not in enum", "version: 1\n" + OK_MODEL + "    dtype: fp8\n",
     5, 5, "models.0.dtype", "literal_error", "'keep', 'fp32', 'fp16' or 'bf16'"),
    ("validate yes", "version: 1\n" + OK_MODEL + "    validate: yes\n",
     5, 5, "models.0.validate", "bool_type", "true or false"),
    ("plugin name not a string", "version: 1\nmodels:\n  - path: m.onnx\n    targets:\n      plugins: {a: 3}\n",
     5, 17, "models.0.targets.plugins.a", "string_type", "quotes"),
    ("plugin name empty", "version: 1\nmodels:\n  - path: m.onnx\n    targets:\n      plugins:\n        a: ''\n",
     6, 9, "models.0.targets.plugins.a", "string_too_short", "non-empty"),
    ("node name read as number",
     "version: 1\nmodels:\n  - path: m.onnx\n    targets:\n      nodes:\n        - a\n        - 017\n",
     7, 11, "models.0.targets.nodes.1", "string_type", "quotes"),
    ("glob output without stem",
     "version: 1\nmodels:\n  - path: 'models/*.onnx'\n    output: out/x.onnx\n    targets: {nodes: [a]}\n",
     4, 5, "models.0.output", "glob_needs_stem", "{stem}"),
    ("unknown placeholder", "version: 1\n" + OK_MODEL + "    output: '{name}.onnx'\n",
     5, 5, "models.0.output", "unknown_placeholder", "{stem} and {output_dir}"),
    ("unknown tolerance dtype", "version: 1\ndefaults:\n  tolerance:\n    fp8: {rtol: 0.1, atol: 0.1}\n" + OK_MODEL,
     4, 5, "defaults.tolerance.fp8", "literal_error", "'fp32', 'fp16' or 'bf16'"),
    ("root is a list", "- version: 1\n",
     1, 1, "", "model_type", "key: value"),
    ("empty file", "# nothing yet\n",
     1, 1, "", "empty_spec", "version: 1"),
    ("two documents", "version: 1\n---\nversion: 1\n",
     2, 1, "", "yaml_syntax", "single YAML document"),
    ("glob matches nothing", "version: 1\nmodels:\n  - path: m.onnx\n    targets: {nodes: [a]}\n"
     "  - path: 'nothing/*.onnx'\n    output: 'out/{stem}.onnx'\n    targets: {op_types: [Gelu]}\n",
     5, 5, "models.1.path", "glob_no_match", "spec file's folder"),
    ("model file missing", "version: 1\nmodels:\n  - path: missing.onnx\n    targets: {nodes: [a]}\n",
     3, 5, "models.0.path", "model_not_found", "spec file's folder"),
    ("two models, one output", "version: 1\nmodels:\n  - path: m.onnx\n    output: o.onnx\n    targets: {nodes: [a]}\n"
     "  - path: m.onnx\n    output: o.onnx\n    targets: {nodes: [b]}\n",
     7, 5, "models.1.output", "output_clash", "its own output"),
]


@pytest.mark.parametrize("text, line, col, field, kind, hint", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_is_reported_at_its_line(spec_errors, text, line, col, field, kind, hint):
    err = spec_errors(text)
    assert len(err.issues) == 1, str(err)
    issue = err.issues[0]
    assert (issue.line, issue.col, issue.field, issue.type) == (line, col, field, kind), str(err)
    assert hint in issue.hint
    where = f"config.yaml:{line}:{col}:" + (f" {field}:" if field else "")
    assert str(err).endswith(str(issue)) and where in str(err)
    assert str(issue).endswith(f"(hint: {issue.hint})")


def test_message_format_is_exact(tmp_path):
    text = "version: 1\nmodels:\n  - path: m.onnx\n    targets:\n      nodez: [a]\n"
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "config.yaml", folder=tmp_path)
    assert str(info.value) == ("config.yaml:5:7: models.0.targets.nodez: unknown key 'nodez' "
                               "(hint: did you mean 'nodes'?)")


def test_all_problems_are_listed_in_file_order():
    text = ("version: 1\nexecutor: {jobs: 0}\ndefaults:\n  dtype: half\nmodels:\n"
            "  - path: m.onnx\n    targets: {nodes: [a], op_type: [B]}\n")
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "c.yaml")
    lines = [(i.line, i.field) for i in info.value.issues]
    assert lines == [(2, "executor.jobs"), (4, "defaults.dtype"), (7, "models.0.targets.op_type")]
    assert str(info.value).splitlines()[2].startswith("c.yaml:7:27: models.0.targets.op_type: unknown key")


def test_failed_entries_do_not_also_report_an_empty_list():
    """pydantic counts only valid entries against min_length; that second error would only confuse."""
    with pytest.raises(SpecError) as info:
        load_spec_text("version: 1\nmodels:\n  - path: m.onnx\n    targets: {}\n")
    assert [i.type for i in info.value.issues] == ["no_targets"]


def test_all_duplicate_keys_are_reported():
    with pytest.raises(SpecError) as info:
        load_spec_text("version: 1\nversion: 1\ndefaults:\n  dtype: keep\n  dtype: fp16\n")
    assert [(i.line, i.field) for i in info.value.issues] == [(2, "version"), (5, "defaults.dtype")]


def test_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.yaml")
    assert "nope.yaml: spec file not found" in str(info.value)
    assert info.value.issues[0].type == "file_not_found" and info.value.issues[0].line is None


def test_control_character_is_a_syntax_error():
    with pytest.raises(SpecError) as info:
        load_spec_text("version: 1\nmodels: \x07\n", "c.yaml")
    assert (info.value.issues[0].line, info.value.issues[0].type) == (2, "yaml_syntax")


def test_issue_is_json_ready_and_error_is_a_tpat_error():
    with pytest.raises(TpatError) as info:
        load_spec_text("version: 2\n" + OK_MODEL, "c.yaml")
    issue = info.value.issues[0]
    assert isinstance(issue, SpecIssue)
    assert json.loads(json.dumps(issue.to_json())) == {
        "file": "c.yaml", "line": 1, "col": 1, "loc": ["version"], "field": "version",
        "type": "unsupported_version", "message": "version 2 is not supported", "hint": "this tpat reads `version: 1`"}
    assert info.value.exit_code == 1


def test_golden_bad_spec(tmp_path):
    """The whole message for a spec with several problems, kept as a file pair so a change shows as a diff."""
    from pathlib import Path

    here = Path(__file__).parent / "bad"
    with pytest.raises(SpecError) as info:
        load_spec(here / "many.yaml")
    got = str(info.value).replace(str(here / "many.yaml"), "many.yaml")
    assert got + "\n" == (here / "many.expected.txt").read_text(encoding="utf-8")
