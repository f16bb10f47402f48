"""Tuned plugins rebuild from their records on a CPU machine: no GPU, no re-tuning, byte-identical sources.

The records here are made offline (a hand-written schedule committed to a meta_schedule JSON database, exactly
what a tuning run on a GPU writes), so the test runs in CI; the GPU tuning run itself is in benchmarks/.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import onnx
import pytest

from tpat.workflow import apply_spec, load_resolved
from tuning_helpers import planned_tune_key, write_records
from workflow_helpers import erf_model, tpat_cli, write_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks.cases
THREADS = 128  # the default schedule uses 256 threads per block: the tuned kernels are told apart by this


@pytest.mark.slow
def test_rebuild_from_records_reproduces_tuned_sources(tmp_path):
    cache = tmp_path / "cache"
    spec = write_spec(tmp_path / "w", {"a.onnx": erf_model(64)}, {"op_types": ["Erf"]}, cache,
                      defaults={"tuning": {"trials": 16}})
    plan_text = tpat_cli("plan", str(spec)).stdout
    assert "tune skipped: 16 trials asked, but no GPU here and no records" in plan_text

    plugin, key = planned_tune_key(load_resolved(spec))
    out = tmp_path / "w" / "out"
    write_records(plugin, out / "trt_plugin" / "tuning" / "tpat_erf", key, THREADS)

    result = apply_spec(spec, progress=False)
    assert not result.failed_models
    assert ("tpat_erf", "tune") in result.ran, "records beside the outputs are imported as the tune task"
    src = out / "trt_plugin" / "src"
    sources = {p.name: p.read_bytes() for p in sorted(src.iterdir())}
    assert {"tpat_erf_kernels.cu", "tpat_erf_kernels_v0.cu", "tpat_erf_kernels_v1.cu"} <= set(sources)
    assert f"__launch_bounds__({THREADS})".encode() in sources["tpat_erf_kernels_v1.cu"]
    assert b"__launch_bounds__(256)" in sources["tpat_erf_kernels_v0.cu"]  # tpat's vectorized elementwise rule
    assert b"if (dims[0] == 8)" in sources["tpat_erf_kernels.cu"], "dispatch on the opt batch"
    assert (out / "trt_plugin" / "lib" / "libtpat_erf_kernels.so").is_file()
    manifest = (out / "tpat.lock.yaml").read_text()
    assert "records: trt_plugin/tuning/tpat_erf" in manifest and key in manifest

    shutil.rmtree(cache)  # a fresh CPU machine with only the outputs (records included) checked in
    shutil.rmtree(src)
    again = apply_spec(spec, progress=False)
    assert ("tpat_erf", "tune") in again.ran and not again.failed_models
    assert {p.name: p.read_bytes() for p in sorted(src.iterdir())} == sources
    assert (out / "tpat.lock.yaml").read_text() == manifest


def test_a_tuned_variant_with_constants_builds(tmp_path):
    """A tuned kernel set whose plan uploads a constant (the bias of an Add): its init released what it made
    through its destroy, defined after it and declared nowhere (the header declares the dispatcher's functions
    only), and nvcc refused the variant: tuned GatherElements (the axis length, a constant) failed to build on the
    H200."""
    import numpy as np
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper

    bias = numpy_helper.from_array(np.linspace(-1, 1, 64, dtype=np.float32), "b")
    graph = h.make_graph([h.make_node("Add", ["x", "b"], ["y"], name="add")], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, ["batch", 64])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["batch", 64])], initializer=[bias])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    spec = write_spec(tmp_path / "w", {"a.onnx": model}, {"op_types": ["Add"]}, tmp_path / "cache",
                      defaults={"tuning": {"trials": 16}})
    plugin, key = planned_tune_key(load_resolved(spec))
    out = tmp_path / "w" / "out"
    write_records(plugin, out / "trt_plugin" / "tuning" / plugin.name, key, THREADS)
    result = apply_spec(spec, progress=False)
    assert not result.failed_models, result.model_status
    src = out / "trt_plugin" / "src"
    variant = (src / f"{plugin.name}_kernels_v1.cu").read_text()
    assert f"__launch_bounds__({THREADS})" in variant and "kConst0" in variant, "the tuned set, with its constant"
    assert (out / "trt_plugin" / "lib" / f"lib{plugin.name}_kernels.so").is_file()


GPU_RECORDS = Path(__file__).resolve().parents[2] / "benchmarks" / "records"


@pytest.mark.slow
@pytest.mark.parametrize("case_name", sorted(p.name for p in GPU_RECORDS.iterdir() if p.is_dir()))
def test_records_tuned_on_the_h100_rebuild_the_same_kernels_here(case_name, tmp_path):
    """Records meta_schedule wrote on an H100 (benchmarks/tune_on_gpu.sh, 64 trials) rebuild, on this CPU machine,
    the launch plan the GPU machine built from them -- unless their tune.json verdict (measured on the H100 by
    benchmarks/compare_defaults.py) says the default schedule is faster, and then the default's."""
    import tpat
    from benchmarks.cases import select
    from tpat.api import _resolved

    (case,) = select([case_name])
    records = GPU_RECORDS / case_name
    gpu_meta = json.loads((records / "gpu_meta.json").read_text())
    plugin = gpu_meta["plugin"]
    onnx.save(case.model(), tmp_path / "model.onnx")
    resolved = _resolved((tmp_path / "model.onnx").resolve(), (tmp_path / "out.onnx").resolve(), [case_name], None,
                         None, {}, ("sm_90",), False, None, "keep", 64)
    _, key = planned_tune_key(resolved, tmp_path / "trt_plugin")
    folder = tmp_path / "trt_plugin" / "tuning" / plugin
    folder.mkdir(parents=True)
    for name in ("database_workload.json", "database_tuning_record.json"):
        shutil.copyfile(records / name, folder / name)
    # tune.json is metadata; its key is recomputed because tune keys no longer hash tpat's own code
    (folder / "tune.json").write_text(json.dumps({**json.loads((records / "tune.json").read_text()), "key": key}))
    tpat.onnx2plugin(tmp_path / "model.onnx", tmp_path / "out.onnx", node_names=[case_name], validate="never",
                     trials=64)
    rebuilt = json.loads((tmp_path / "trt_plugin" / "meta" / f"{plugin}.json").read_text())
    untuned = tpat.onnx2plugin(tmp_path / "model.onnx", tmp_path / "u" / "out.onnx", node_names=[case_name],
                               validate="never")
    plain = json.loads(untuned.plugins[0].files["meta"].read_text())
    verdicts = json.loads((records / "tune.json").read_text())["kernels"]
    if all(k["kept"] for k in verdicts.values()):  # measured faster on the H100: the tuned kernels are built
        assert rebuilt["launch_plan"] == gpu_meta["launch_plan"] != plain["launch_plan"]
    else:  # no faster than tpat's default schedule: the default kernels are built
        assert rebuilt["launch_plan"] == plain["launch_plan"]


def test_tvm_without_dist_info_keys_records_like_a_pip_install():
    """The GPU machine's TVM bundle has no dist-info: its version comes from tvm/_version.py, so the records it
    tunes carry the keys a pip-installed TVM of that version computes (they once said 'absent')."""
    from importlib import metadata

    from tpat.cache.keys import _tvm_version_file

    pytest.importorskip("tvm")
    assert _tvm_version_file() == metadata.version("apache-tvm")
