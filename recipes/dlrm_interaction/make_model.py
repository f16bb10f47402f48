"""A DLRM-style click model in PyTorch (bottom MLP, 26 embedding tables, pairwise dot-product feature interaction,
top MLP), exported by torch's dynamo exporter: `python make_model.py [out]`.

The interaction is DLRM's: the 27 feature vectors [batch, 27, 64] are multiplied with themselves (a batched
27 x 27 Gram matrix) and the 351 entries above the diagonal are gathered -- the part fused into one plugin.
Dynamic batch; weights random (recipes/weights.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

DENSE, TABLES, ROWS, DIM = 13, 26, 1000, 64
DYNAMIC = {"batch": {"min": 1, "opt": 256, "max": 2048}}


def module():
    import torch

    class DLRM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bottom = torch.nn.Sequential(torch.nn.Linear(DENSE, 128), torch.nn.ReLU(), torch.nn.Linear(128, DIM))
            self.tables = torch.nn.Parameter(torch.randn(TABLES, ROWS, DIM) * 0.02)
            self.offsets = torch.nn.Parameter(torch.arange(TABLES) * ROWS, requires_grad=False)
            pairs = (TABLES + 1) * TABLES // 2
            self.top = torch.nn.Sequential(torch.nn.Linear(DIM + pairs, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
            i, j = torch.triu_indices(TABLES + 1, TABLES + 1, offset=1)
            self.pairs = torch.nn.Parameter(i * (TABLES + 1) + j, requires_grad=False)

        def forward(self, dense, sparse_ids):
            d = self.bottom(dense)  # [batch, 64]
            e = self.tables.reshape(-1, DIM)[sparse_ids + self.offsets]  # [batch, 26, 64]
            t = torch.cat([d.unsqueeze(1), e], dim=1)  # [batch, 27, 64]
            z = torch.bmm(t, t.transpose(1, 2)).flatten(1)  # [batch, 729]
            return torch.sigmoid(self.top(torch.cat([d, z[:, self.pairs]], dim=1)))

    torch.manual_seed(0)
    return DLRM().eval()


def example_inputs():
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(4, DENSE, generator=g), torch.randint(0, ROWS, (4, TABLES), generator=g)


def build(path: Path) -> Path:
    import onnx

    import weights
    from tpat.torch_export import export_onnx

    shapes = {"dense": {0: "batch"}, "sparse_ids": {0: "batch"}}
    export_onnx(module(), example_inputs(), path, shapes, DYNAMIC, output_names=["click"])
    weights.save(weights.randomize(onnx.load(str(path))), path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "model.onnx"))
