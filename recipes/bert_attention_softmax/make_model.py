"""Build a BERT-base self-attention block (12 heads x 64, sequence 128) as ONNX: `python make_model.py [out.onnx]`.

The graph is what PyTorch exports for one `BertSelfAttention`: Q/K/V projections, split into heads, Q.K^T / 8,
plus the additive attention mask, Softmax over the keys, times V, merged back to [batch, 128, 768]. Weights are
random (numpy seed 0), so the output is the same file every run. Needs only numpy and onnx.
"""

from __future__ import annotations


import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper as nh

from tpat.examples import finish_model, write_model_main

SEQ, HIDDEN, HEADS, HEAD_DIM = 128, 768, 12, 64
SOFTMAX_NODE = "/bert/encoder/layer.0/attention/self/Softmax"
P = "/bert/encoder/layer.0/attention/self"


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [nh.from_array(np.array([0, 0, HEADS, HEAD_DIM], np.int64), "heads_shape"),
             nh.from_array(np.array([0, 0, HIDDEN], np.int64), "merged_shape"),
             nh.from_array(np.array(1.0 / np.sqrt(HEAD_DIM), np.float32), "inv_sqrt_d")]
    nodes = []
    for x in ("query", "key", "value"):
        inits.append(nh.from_array((rng.standard_normal((HIDDEN, HIDDEN)) * 0.02).astype(np.float32), f"{x}.weight"))
        inits.append(nh.from_array((rng.standard_normal(HIDDEN) * 0.02).astype(np.float32), f"{x}.bias"))
        nodes += [
            h.make_node("MatMul", ["hidden_states", f"{x}.weight"], [f"{x}_mm"], name=f"{P}/{x}/MatMul"),
            h.make_node("Add", [f"{x}_mm", f"{x}.bias"], [f"{x}_proj"], name=f"{P}/{x}/Add"),
            h.make_node("Reshape", [f"{x}_proj", "heads_shape"], [f"{x}_heads"], name=f"{P}/{x}/Reshape"),
        ]
    nodes += [
        h.make_node("Transpose", ["query_heads"], ["q"], name=f"{P}/Transpose_q", perm=[0, 2, 1, 3]),
        h.make_node("Transpose", ["key_heads"], ["k_t"], name=f"{P}/Transpose_k", perm=[0, 2, 3, 1]),
        h.make_node("Transpose", ["value_heads"], ["v"], name=f"{P}/Transpose_v", perm=[0, 2, 1, 3]),
        h.make_node("MatMul", ["q", "k_t"], ["scores"], name=f"{P}/MatMul_qk"),
        h.make_node("Mul", ["scores", "inv_sqrt_d"], ["scaled"], name=f"{P}/Mul_scale"),
        h.make_node("Add", ["scaled", "attention_mask"], ["masked"], name=f"{P}/Add_mask"),
        h.make_node("Softmax", ["masked"], ["probs"], name=SOFTMAX_NODE, axis=-1),
        h.make_node("MatMul", ["probs", "v"], ["ctx_heads"], name=f"{P}/MatMul_v"),
        h.make_node("Transpose", ["ctx_heads"], ["ctx_t"], name=f"{P}/Transpose_ctx", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["ctx_t", "merged_shape"], ["context"], name=f"{P}/Reshape_ctx"),
    ]
    graph = h.make_graph(
        nodes, "bert_attention",
        [h.make_tensor_value_info("hidden_states", TensorProto.FLOAT, ["batch", SEQ, HIDDEN]),
         h.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["batch", 1, 1, SEQ])],
        [h.make_tensor_value_info("context", TensorProto.FLOAT, ["batch", SEQ, HIDDEN])],
        initializer=inits,
    )
    return finish_model(graph, "tpat-recipes")


if __name__ == "__main__":
    write_model_main(build, __file__)
