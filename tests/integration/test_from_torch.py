"""tpat.from_torch: a PyTorch module with an op TensorRT's parser lacks (index_add: ScatterND reduction="add")
exported by the dynamo exporter, converted, and the whole rewritten model checked against the exported one
(here with each plugin's node model; on a GPU machine `validate` runs the kernels)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")


class Aggregate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(16, 16)

    def forward(self, x, edges):
        messages = torch.relu(self.proj(x[edges[:, 0]]))
        return torch.zeros_like(x).index_add(0, edges[:, 1], messages)


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
