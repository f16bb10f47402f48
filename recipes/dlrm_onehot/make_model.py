"""Build a small DLRM-style click model whose sparse features go through OneHot: `python make_model.py [out.onnx]`.

26 categorical features arrive as int64 ids in [0, 1000); OneHot(depth 1000) turns them into [batch, 26, 1000]
and a MatMul with a shared [1000, 16] embedding table (the hashing-trick variant of DLRM) looks them up. 13 dense
features go through a bottom MLP, both parts are concatenated and a top MLP with a sigmoid gives the click
probability [batch, 1]. Weights are random (numpy seed 0), so the output is the same file every run.
"""

from __future__ import annotations


import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper as nh

from tpat.examples import finish_model, write_model_main

SPARSE, DENSE, DEPTH, EMB = 26, 13, 1000, 16
ONEHOT_NODE = "sparse/OneHot"


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(0)

    def w(name, *shape, scale=0.05):
        return nh.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        nh.from_array(np.array(DEPTH, np.int64), "depth"),
        nh.from_array(np.array([0.0, 1.0], np.float32), "onehot_values"),
        w("embedding_table", DEPTH, EMB),
        w("bottom.weight", DENSE, EMB), w("bottom.bias", EMB),
        nh.from_array(np.array([1], np.int64), "axis1"),
        nh.from_array(np.array([0, (SPARSE + 1) * EMB], np.int64), "flat_shape"),
        w("top0.weight", (SPARSE + 1) * EMB, 64), w("top0.bias", 64),
        w("top1.weight", 64, 1), w("top1.bias", 1),
    ]
    nodes = [
        h.make_node("OneHot", ["sparse_ids", "depth", "onehot_values"], ["onehot"], name=ONEHOT_NODE, axis=-1),
        h.make_node("MatMul", ["onehot", "embedding_table"], ["emb"], name="sparse/MatMul_embedding"),
        h.make_node("MatMul", ["dense", "bottom.weight"], ["bot_mm"], name="bottom/MatMul"),
        h.make_node("Add", ["bot_mm", "bottom.bias"], ["bot_add"], name="bottom/Add"),
        h.make_node("Relu", ["bot_add"], ["bot"], name="bottom/Relu"),
        h.make_node("Unsqueeze", ["bot", "axis1"], ["bot3"], name="interact/Unsqueeze"),
        h.make_node("Concat", ["bot3", "emb"], ["feats"], name="interact/Concat", axis=1),
        h.make_node("Reshape", ["feats", "flat_shape"], ["flat"], name="interact/Reshape"),
        h.make_node("MatMul", ["flat", "top0.weight"], ["t0_mm"], name="top/0/MatMul"),
        h.make_node("Add", ["t0_mm", "top0.bias"], ["t0_add"], name="top/0/Add"),
        h.make_node("Relu", ["t0_add"], ["t0"], name="top/0/Relu"),
        h.make_node("MatMul", ["t0", "top1.weight"], ["t1_mm"], name="top/1/MatMul"),
        h.make_node("Add", ["t1_mm", "top1.bias"], ["logit"], name="top/1/Add"),
        h.make_node("Sigmoid", ["logit"], ["click_prob"], name="top/Sigmoid"),
    ]
    graph = h.make_graph(
        nodes, "dlrm_onehot",
        [h.make_tensor_value_info("dense", TensorProto.FLOAT, ["batch", DENSE]),
         h.make_tensor_value_info("sparse_ids", TensorProto.INT64, ["batch", SPARSE])],
        [h.make_tensor_value_info("click_prob", TensorProto.FLOAT, ["batch", 1])],
        initializer=inits,
    )
    return finish_model(graph, "tpat-recipes")


if __name__ == "__main__":
    write_model_main(build, __file__)
