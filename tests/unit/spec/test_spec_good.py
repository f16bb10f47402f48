"""Good specs: what the planner gets after defaults are merged, paths resolved and globs expanded."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from tpat.spec import DEFAULT_TOLERANCE, DimRange, Spec, Tolerance, load_spec, load_spec_text, resolve_spec

FULL = """
version: 1
output_dir: build/tpat
cache_dir: cache
executor: {kind: local, jobs: 2}
defaults:
  arch: [sm_90, sm_80]
  dtype: fp16
  dynamic:
    batch: {min: 1, opt: 128, max: 256}
    seq: {min: 1, opt: 64, max: 128}
  tuning: {trials: 16, per_op: {Softmax: 64}}
  validate: true
  tolerance: {fp16: {rtol: 1e-3, atol: 2e-3}}
models:
  - path: models/bert.onnx
    output: out/{stem}.tpat.onnx
    targets:
      nodes: [softmax_0, "a/b::c", no]
      op_types: [OneHot, GatherND]
      plugins: {softmax_0: my_softmax, gather_1: my_gather}
    dynamic: {seq: {min: 1, opt: 256, max: 512}}
    tuning: {per_op: {OneHot: 3}}
    arch: [sm_89]
  - path: models/g*.onnx
    targets: {op_types: [LayerNormalization]}
    tuning: {trials: 0}
    validate: false
"""
MODELS = ("models/bert.onnx", "models/gpt.onnx", "models/gpt2.onnx", "models/other.onnx")


@pytest.fixture
def resolved(write_spec):
    path = write_spec(FULL, MODELS)
    return path.parent, resolve_spec(load_spec(path), environ={})


def test_paths_resolve_against_the_spec_folder(resolved):
    root, spec = resolved
    assert spec.file == root / "config.yaml"
    assert spec.output_dir == root / "build/tpat"
    assert spec.cache_dir == root / "cache"
    bert = spec.models[0]
    assert (bert.source, bert.output, bert.stem) == (root / "models/bert.onnx", root / "out/bert.tpat.onnx", "bert")


def test_glob_expands_sorted_with_default_output(resolved):
    root, spec = resolved
    globbed = spec.models[1:]
    assert [m.source.name for m in globbed] == ["gpt.onnx", "gpt2.onnx"]
    assert [m.output for m in globbed] == [root / "build/tpat/gpt.tpat.onnx", root / "build/tpat/gpt2.tpat.onnx"]
    assert {m.entry for m in globbed} == {1}


def test_model_overrides_win_and_mappings_merge_per_key(resolved):
    _, spec = resolved
    bert, gpt = spec.models[0], spec.models[1]
    assert bert.arch == ("sm_89",) and gpt.arch == ("sm_80", "sm_90")       # lists replace; sorted oldest first
    assert bert.dtype == gpt.dtype == "fp16"                               # inherited
    assert dict(bert.dynamic) == {"batch": DimRange(min=1, opt=128, max=256), "seq": DimRange(min=1, opt=256, max=512)}
    assert dict(gpt.dynamic)["seq"] == DimRange(min=1, opt=64, max=128)
    assert (bert.trials, dict(bert.per_op_trials)) == (16, {"Softmax": 64, "OneHot": 3})
    assert (gpt.trials, gpt.trials_for("Softmax"), gpt.trials_for("Gelu")) == (0, 64, 0)
    assert (bert.validate, gpt.validate) == (True, False)
    assert bert.tolerance["fp16"] == Tolerance(rtol=1e-3, atol=2e-3)
    assert bert.tolerance["fp32"] == DEFAULT_TOLERANCE["fp32"]


def test_targets(resolved):
    _, spec = resolved
    t = spec.models[0].targets
    assert t.nodes == ("softmax_0", "a/b::c", "no", "gather_1")               # `no` stays a string
    assert t.op_types == ("OneHot", "GatherND")
    assert (t.plugin_name("softmax_0"), t.plugin_name("a/b::c")) == ("my_softmax", None)


def test_resolved_models_are_frozen(resolved):
    _, spec = resolved
    bert = spec.models[0]
    with pytest.raises(AttributeError):
        bert.dtype = "fp32"
    with pytest.raises(TypeError):
        bert.dynamic["batch"] = None
    assert spec.models == resolve_spec(load_spec(spec.file), environ={}).models


def test_spec_models_are_frozen(write_spec):
    spec = load_spec(write_spec(FULL, MODELS))
    with pytest.raises(pydantic.ValidationError):
        spec.version = 2


def test_minimal_spec_uses_defaults(write_spec, tmp_path):
    path = write_spec("version: 1\nmodels:\n  - path: m.onnx\n    targets: {op_types: [Gelu]}\n")
    spec = resolve_spec(load_spec(path), environ={"TPAT_CACHE_DIR": str(tmp_path / "env-cache")})
    m = spec.models[0]
    assert spec.output_dir == tmp_path / "tpat_out" and spec.cache_dir == tmp_path / "env-cache"
    assert (spec.executor.kind, spec.executor.jobs) == ("local", 1)
    assert m.output == tmp_path / "tpat_out/m.tpat.onnx"
    assert (m.arch, m.dtype, dict(m.dynamic), m.trials, m.validate) == ((), "keep", {}, 0, True)
    assert dict(m.tolerance) == dict(DEFAULT_TOLERANCE)


def test_cache_dir_default_is_home(write_spec):
    path = write_spec("version: 1\nmodels:\n  - path: m.onnx\n    targets: {op_types: [Gelu]}\n")
    assert resolve_spec(load_spec(path), environ={}).cache_dir == Path("~/.cache/tpat").expanduser()


def test_yaml_1_2_scalars():
    """no/on stay strings, dates stay strings, 017 is 17, 1e-5 is a float, 0x10 is a string."""
    spec = load_spec_text("""
version: 1
defaults:
  tolerance: {fp32: {rtol: 1e-5, atol: 0}}
  tuning: {per_op: {Softmax: 017}}
models:
  - path: m.onnx
    targets:
      nodes: [no, on, off, yes, 2024-01-01, 0x10, 1_000, "null"]
""")
    assert spec.models[0].targets.nodes == ("no", "on", "off", "yes", "2024-01-01", "0x10", "1_000", "null")
    assert spec.defaults.tolerance["fp32"] == Tolerance(rtol=1e-5, atol=0.0)
    assert spec.defaults.tuning.per_op == {"Softmax": 17}


def test_anchors_and_merge_keys(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"")
    (tmp_path / "b.onnx").write_bytes(b"")
    text = """
version: 1
models:
  - &base
    path: a.onnx
    dtype: fp16
    targets: {op_types: [Gelu]}
  - <<: *base
    path: b.onnx
"""
    models = resolve_spec(load_spec_text(text, folder=tmp_path), environ={}).models
    assert [(m.source.name, m.dtype) for m in models] == [("a.onnx", "fp16"), ("b.onnx", "fp16")]


def test_spec_built_in_python_resolves_against_cwd(tmp_path, monkeypatch):
    (tmp_path / "m.onnx").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    spec = Spec.model_validate({"version": 1, "models": [{"path": "m.onnx", "targets": {"nodes": ["x"]}}]})
    (m,) = resolve_spec(spec, environ={}).models
    assert m.source == tmp_path / "m.onnx" and resolve_spec(spec, environ={}).file is None


def test_home_and_output_dir_placeholders(write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write_spec("version: 1\ncache_dir: ~/c\nmodels:\n  - path: m.onnx\n"
                      "    output: '{output_dir}/x/{stem}.onnx'\n    targets: {op_types: [Gelu]}\n")
    spec = resolve_spec(load_spec(path), environ={})
    assert spec.cache_dir == tmp_path / "home/c"
    assert spec.models[0].output == tmp_path / "tpat_out/x/m.onnx"


def test_dask_executor_with_a_scheduler_address(write_spec):
    path = write_spec("version: 1\nexecutor: {kind: dask, address: 'tcp://sched:8786'}\n"
                      "models:\n  - path: m.onnx\n    targets: {op_types: [Gelu]}\n")
    executor = resolve_spec(load_spec(path)).executor
    assert (executor.kind, executor.address, executor.jobs) == ("dask", "tcp://sched:8786", 1)
    assert "jobs" not in executor.model_fields_set  # a local cluster then gets one CPU worker per core
