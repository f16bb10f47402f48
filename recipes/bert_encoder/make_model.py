"""BERT-base encoder from `transformers` (12 layers, hidden 768, 12 heads, FF 3072), exported by torch's dynamo
exporter with dynamic batch and sequence: `python make_model.py [out.onnx]`.

Needs torch, transformers and onnxscript (tpat[torch]); no download: the model is built from its config and its
weights are random (`recipes/weights.py`: regenerable from the graph, seeded by tensor name). The graph goes to
`model.onnx`, the weights (440 MB) to `model.onnx.data` beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # recipes/: weights.py
sys.path.insert(0, str(HERE.parent.parent))  # the repo: tpat

DYNAMIC = {"batch": {"min": 1, "opt": 8, "max": 32}, "seq": {"min": 2, "opt": 128, "max": 256}}


def module():
    import torch
    import transformers

    config = transformers.BertConfig(attn_implementation="eager")  # BERT-base; eager: the attention as ONNX ops
    torch.manual_seed(0)
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # no two parameters alike: the exporter would merge equal ones (all biases are zeros)
        for p in model.parameters():
            p.add_(torch.randn(p.shape) * 0.02)
    return model


def example_inputs():
    import torch

    ids = torch.randint(0, 30522, (2, 16), generator=torch.Generator().manual_seed(0))
    return ids, torch.ones(2, 16, dtype=torch.int64)


def build(path: Path) -> Path:
    import onnx

    import weights
    from tpat.torch_export import export_onnx

    shapes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    export_onnx(module(), example_inputs(), path, shapes, DYNAMIC, output_names=["last_hidden_state"])
    model = weights.randomize(onnx.load(str(path)))
    weights.save(model, path)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "model.onnx"
    print(build(out))
