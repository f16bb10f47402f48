"""Fixed-shape plugins for the GPU validation tests (the dynamic ones come from harness_cases.prebuild).

`tests/gpu/prebuild.py DIR` builds both; this module is what it and the tests' fallback fixture call."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import op_models  # noqa: E402

FIXED_BATCH = 3


def fixed(model: onnx.ModelProto, batch: int = FIXED_BATCH) -> onnx.ModelProto:
    """The same model with the batch dim set to a number: the fixed-shape (non-dynamic) mode."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        d = vi.type.tensor_type.shape.dim[0]
        if d.dim_param == "batch":
            d.Clear()
            d.dim_value = batch
    return m


def build_fixed(root: Path, arch=("sm_90",)) -> None:
    """Fixed-shape variants of the core ops into ``root/fixed/<Op>/`` (batch set to a number, no dims), and the
    fixed-shape extras (`op_models.FIXED_EXTRAS`) into ``root/fixed/<name>/``."""
    import tpat

    for op, make in {**op_models.CORE_OPS, **op_models.FIXED_EXTRAS}.items():
        m = fixed(make())
        folder = root / "fixed" / op
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(m, folder / "model.onnx")
        tpat.onnx2plugin(folder / "model.onnx", folder / "model.tpat.onnx", node_types=[m.graph.node[0].op_type],
                         arch=tuple(arch), validate="never")


def build_policy_variants(root: Path, arch=("sm_90",)) -> None:
    """fp32 models converted with a dtype policy into ``root/policy/<name>/`` (dynamic batch 1..256)."""
    import tpat

    for name, (op, policy) in op_models.POLICY_VARIANTS.items():
        m = op_models.CORE_OPS[op]()
        folder = root / "policy" / name
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(m, folder / "model.onnx")
        tpat.onnx2plugin(folder / "model.onnx", folder / "model.tpat.onnx", node_types=[op], dynamic_bs=True,
                         min_bs=1, opt_bs=128, max_bs=256, arch=tuple(arch), validate="never", dtype=policy)


def build_tuned_dispatch(root: Path, arch=("sm_90",)) -> None:
    """Erf with dynamic batch and records (hand-made, 128 threads) for batch 128 into ``root/tuned/Erf/``: the
    launcher must pick the tuned kernels at 128 and the symbolic ones elsewhere."""
    import tpat
    from tpat.api import _resolved
    from tuning_helpers import planned_tune_key, write_records

    folder = root / "tuned" / "Erf"
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(op_models.erf(), folder / "model.onnx")
    src, dst = (folder / "model.onnx").resolve(), (folder / "model.tpat.onnx").resolve()
    resolved = _resolved(src, dst, None, ["Erf"], None, {"batch": {"min": 1, "opt": 128, "max": 256}},
                         tuple(arch), False, None, "keep", 8)
    plugin, key = planned_tune_key(resolved, folder / "trt_plugin")
    write_records(plugin, folder / "trt_plugin" / "tuning" / plugin.name, key, 128)
    tpat.onnx2plugin(src, dst, node_types=["Erf"], dynamic_bs=True, min_bs=1, opt_bs=128, max_bs=256,
                     arch=tuple(arch), validate="never", trials=8)


def build_fused(root: Path, arch=("sm_90",)) -> None:
    """Fused groups (several nodes, one plugin) through `tpat apply` into ``root/fused/<name>/out/trt_plugin``."""
    import yaml

    from tpat.workflow import apply_spec

    for name, (make, groups) in op_models.FUSED_GROUPS.items():
        folder = root / "fused" / name
        folder.mkdir(parents=True, exist_ok=True)
        onnx.save(make(), folder / "model.onnx")
        spec = {"version": 1, "output_dir": "out",
                "defaults": {"arch": list(arch), "validate": False,
                             "dynamic": {"batch": {"min": 1, "opt": 128, "max": 256}}},
                "models": [{"path": "model.onnx", "targets": {"fuse": groups}}]}
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
        result = apply_spec(folder / "spec.yaml", progress=False)
        if result.failed_models:
            raise RuntimeError(f"fused {name}: {result.model_status}")


WHOLE_DYNAMIC = {"batch": {"min": 1, "opt": 8, "max": 32}, "seq": {"min": 1, "opt": 64, "max": 128}}
WHOLE_PATTERNS = [["Add", "LayerNormalization"], ["Div?", "Add", "Softmax"]]


def build_whole(root: Path, arch=("sm_90",)) -> Path:
    """A 4-layer encoder (tests/encoder_models.py) with its Add+LayerNorm, mask+Softmax and erf-GELU patterns fused
    (3 plugins for 16 nodes) into ``root/whole/encoder/``: the GPU test runs the rewritten model whole."""
    import yaml

    import encoder_models
    from tpat.workflow import apply_spec

    folder = root / "whole" / "encoder"
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(encoder_models.encoder(layers=4), folder / "model.onnx")
    spec = {"version": 1, "output_dir": "out",
            "defaults": {"arch": list(arch), "validate": False, "dynamic": WHOLE_DYNAMIC},
            "models": [{"path": "model.onnx",
                        "targets": {"fuse_patterns": [*WHOLE_PATTERNS, encoder_models.GELU_DAG]}}]}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = apply_spec(folder / "spec.yaml", progress=False)
    if result.failed_models:
        raise RuntimeError(f"whole encoder: {result.model_status}")
    return folder


def build_all(root: Path) -> None:
    """Everything the GPU tests read: dynamic plugins (harness_cases.prebuild) and the fixed-shape ones."""
    import harness_cases

    harness_cases.prebuild(root, {**op_models.CORE_OPS, **op_models.EXTRA_OPS})
    build_fixed(root)
    build_policy_variants(root)
    build_tuned_dispatch(root)
    build_fused(root)
    build_whole(root)
