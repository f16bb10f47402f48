"""One GNN message-passing layer in PyTorch, exported by torch's dynamo exporter: `python make_model.py [out]`.

x [nodes, 64] node features, edge_index [edges, 2] (source, destination); messages relu(W_m x[src]) are summed
into their destination nodes with `index_add` (scatter-add: onnx ScatterND(reduction="add"), which TensorRT's
parser does not import), then h = relu(W_u [x, aggregated]). The graph has 1024 nodes; its edge count is dynamic
(a dynamic node count too fails to lower today: TVM passes it to the scatter kernel in a form tpat's launch reader
does not trace). Weights random (recipes/weights.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

FEATS, NODES = 64, 1024
DYNAMIC = {"edges": {"min": 2, "opt": 8192, "max": 32768}}


def module():
    import torch

    class GNNLayer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.message = torch.nn.Linear(FEATS, FEATS)
            self.update = torch.nn.Linear(2 * FEATS, FEATS)

        def forward(self, x, edge_index):
            src, dst = edge_index[:, 0], edge_index[:, 1]
            messages = torch.relu(self.message(x[src]))
            aggregated = torch.zeros_like(x).index_add(0, dst, messages)
            return torch.relu(self.update(torch.cat([x, aggregated], dim=-1)))

    torch.manual_seed(0)
    return GNNLayer().eval()


def example_inputs():
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(NODES, FEATS, generator=g), torch.randint(0, NODES, (48, 2), generator=g)


def build(path: Path) -> Path:
    import onnx

    import weights
    from tpat.torch_export import export_onnx

    shapes = {"x": {}, "edge_index": {0: "edges"}}
    export_onnx(module(), example_inputs(), path, shapes, DYNAMIC, output_names=["h"])
    weights.save(weights.randomize(onnx.load(str(path))), path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "model.onnx"))
