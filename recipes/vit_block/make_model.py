"""A ViT-Base block from `transformers` (patch embedding + one pre-LayerNorm encoder layer at ViT-Base size:
hidden 768, 12 heads, MLP 3072, 197 tokens), exported by torch's dynamo exporter: `python make_model.py [out]`.

Dynamic batch; weights random (recipes/weights.py); no download (built from its config).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

DYNAMIC = {"batch": {"min": 1, "opt": 16, "max": 64}}


def module():
    import torch
    import transformers

    config = transformers.ViTConfig(num_hidden_layers=1, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.ViTModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # no two parameters alike (the exporter would merge equal ones)
        for p in model.parameters():
            p.add_(torch.randn(p.shape) * 0.02)
    return model


def example_inputs():
    import torch

    return (torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)),)


def build(path: Path) -> Path:
    import onnx

    import weights
    from tpat.torch_export import export_onnx

    export_onnx(module(), example_inputs(), path, {"pixel_values": {0: "batch"}}, DYNAMIC,
                output_names=["last_hidden_state"])
    weights.save(weights.randomize(onnx.load(str(path))), path)
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "model.onnx"))
