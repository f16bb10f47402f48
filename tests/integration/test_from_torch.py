"""tpat.from_torch: a PyTorch module with an op TensorRT's parser lacks (index_add: ScatterND reduction="add")
exported by the dynamo exporter, converted, and the whole rewritten model checked against the exported one
(here with each plugin's node model; on a GPU machine `validate` runs the kernels)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")


MODULE_FILE = '''
import torch


class Aggregate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(16, 16)

    def forward(self, x, edges):
        messages = torch.relu(self.proj(x[edges[:, 0]]))
        return torch.zeros_like(x).index_add(0, edges[:, 1], messages)


def build():
    torch.manual_seed(0)
    return Aggregate().eval()


def example():
    g = torch.Generator().manual_seed(0)
    return torch.randn(32, 16, generator=g), torch.randint(0, 32, (40, 2), generator=g)
'''
_MODULE: dict = {}
exec(compile(MODULE_FILE, "aggregate_module.py", "exec"), _MODULE)  # the module a spec's torch entry names, too
Aggregate = _MODULE["Aggregate"]


def test_from_torch_converts_scatter_add_and_the_whole_model_matches(tmp_path):
    import tpat
    from tpat.runtime.whole_model import check_files

    x, edges = torch.randn(32, 16), torch.randint(0, 32, (40, 2))
    result = tpat.from_torch(Aggregate(), (x, edges), dynamic_shapes={"edges": {0: "edges"}},
                             targets={"op_types": ["ScatterND"]}, output_dir=tmp_path / "out", name="agg",
                             arch=["sm_90"], validate=False, dynamic={"edges": {"min": 2, "opt": 64, "max": 512}})
    assert not result.failed_models
    (plugin,) = result.plan.plugins.values()
    assert plugin.op_type == "ScatterND"
    check = check_files(tmp_path / "out" / "agg.tpat.onnx", tmp_path / "out" / "torch" / "agg.onnx",
                        backend="reference")
    assert check.passed, check.summary()
    assert [p.dims for p in check.points] == [{"edges": 2}, {"edges": 64}, {"edges": 512}, {"edges": 7}]


def test_missing_range_is_explained(tmp_path):
    import tpat
    from tpat.errors import TpatError

    with pytest.raises(TpatError, match="dynamic dim 'edges'.*has no range"):
        tpat.from_torch(Aggregate(), (torch.randn(32, 16), torch.randint(0, 32, (40, 2))),
                        dynamic_shapes={"edges": {0: "edges"}}, targets={"op_types": ["ScatterND"]},
                        output_dir=tmp_path / "out")




def test_spec_torch_entry_exports_and_converts(tmp_path):
    """`models: [{torch: {module, inputs, dynamic_shapes}}]`: exported into the output folder, converted like a
    file; an unchanged module exports the same bytes, so a second apply runs nothing."""
    import yaml

    from tpat.workflow import apply_spec

    (tmp_path / "agg_model.py").write_text(MODULE_FILE)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "version": 1, "output_dir": "out", "cache_dir": str(tmp_path / "cache"),
        "defaults": {"arch": ["sm_90"], "validate": False, "dynamic": {"edges": {"min": 2, "opt": 64, "max": 512}}},
        "models": [{"torch": {"module": "agg_model:build", "inputs": "agg_model:example",
                              "dynamic_shapes": {"edges": {0: "edges"}}},
                    "targets": {"op_types": ["ScatterND"]}}]}))
    first = apply_spec(spec, progress=False)
    assert not first.failed_models, first.model_status[0].error
    assert (tmp_path / "out" / "torch" / "build.onnx").is_file() and (tmp_path / "out" / "build.tpat.onnx").is_file()
    second = apply_spec(spec, progress=False)
    assert second.ran == []
    manifest = yaml.safe_load((tmp_path / "out" / "tpat.lock.yaml").read_text())
    assert manifest["models"][0]["path"] == "torch/build.onnx"


def test_spec_torch_entry_errors_point_at_the_entry(tmp_path):
    from tpat.errors import SpecError
    from tpat.spec import load_spec, resolve_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nmodels:\n  - torch: {module: nowhere:build, inputs: nowhere:example}\n"
                    "    targets: {op_types: [ScatterND]}\n")
    with pytest.raises(SpecError, match=r"spec.yaml:3:\d+: models.0.torch: cannot import 'nowhere:build'"):
        resolve_spec(load_spec(spec))
    spec.write_text("version: 1\nmodels:\n  - targets: {op_types: [ScatterND]}\n")
    with pytest.raises(SpecError, match="exactly one of path and torch"):
        load_spec(spec)
