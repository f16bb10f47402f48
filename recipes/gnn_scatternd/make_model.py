"""Build one GNN message-passing layer that aggregates with ScatterND(add): `python make_model.py [out.onnx]`.

Each graph in the batch has 256 nodes with 32 features and 512 directed edges given as (src, dst) pairs. A
message is the source node's features (GatherND, batch_dims=1) times a per-feature gate; ScatterND with
reduction="add" sums the messages into their destination nodes on top of the node's own features, and a linear
update with ReLU follows. ScatterND has no batch_dims, so its [batch, 512, 2] (graph, dst) indices are built in
the graph from Shape/Range/Expand -- what exporters emit for `index_add_` on batched graphs. Weights are random
(numpy seed 0), so the output is the same file every run.
"""

from __future__ import annotations


import numpy as np
import onnx
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper as nh

from tpat.examples import finish_model, write_model_main

NODES, FEATS, EDGES = 256, 32, 512
SCATTER_NODE = "aggregate/ScatterND"


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    i64 = lambda name, v: nh.from_array(np.array(v, np.int64), name)  # noqa: E731
    inits = [
        i64("zero", 0), i64("one", 1), i64("zero_1d", [0]), i64("split_1_1", [1, 1]),
        i64("axes_12", [1, 2]), i64("edges_1", [EDGES, 1]),
        nh.from_array((1.0 + 0.1 * rng.standard_normal(FEATS)).astype(np.float32), "message.gate"),
        nh.from_array((rng.standard_normal((FEATS, FEATS)) / np.sqrt(FEATS)).astype(np.float32), "update.weight"),
        nh.from_array((0.01 * rng.standard_normal(FEATS)).astype(np.float32), "update.bias"),
    ]
    nodes = [
        h.make_node("Split", ["edge_index", "split_1_1"], ["src", "dst"], name="edges/Split", axis=2),
        h.make_node("GatherND", ["x", "src"], ["src_feats"], name="message/GatherND", batch_dims=1),
        h.make_node("Mul", ["src_feats", "message.gate"], ["messages"], name="message/Mul"),
        # (graph, dst) index pairs: graph ids 0..batch-1 broadcast over the edges
        h.make_node("Shape", ["x"], ["x_shape"], name="index/Shape"),
        h.make_node("Gather", ["x_shape", "zero"], ["batch"], name="index/Gather_batch", axis=0),
        h.make_node("Range", ["zero", "batch", "one"], ["graph_ids"], name="index/Range"),
        h.make_node("Unsqueeze", ["graph_ids", "axes_12"], ["graph_ids3"], name="index/Unsqueeze"),
        h.make_node("Gather", ["x_shape", "zero_1d"], ["batch_1d"], name="index/Gather_batch_1d", axis=0),
        h.make_node("Concat", ["batch_1d", "edges_1"], ["expand_shape"], name="index/Concat_shape", axis=0),
        h.make_node("Expand", ["graph_ids3", "expand_shape"], ["graph_col"], name="index/Expand"),
        h.make_node("Concat", ["graph_col", "dst"], ["scatter_idx"], name="index/Concat", axis=2),
        h.make_node("ScatterND", ["x", "scatter_idx", "messages"], ["aggregated"], name=SCATTER_NODE,
                    reduction="add"),
        h.make_node("MatMul", ["aggregated", "update.weight"], ["upd_mm"], name="update/MatMul"),
        h.make_node("Add", ["upd_mm", "update.bias"], ["upd"], name="update/Add"),
        h.make_node("Relu", ["upd"], ["x_out"], name="update/Relu"),
    ]
    graph = h.make_graph(
        nodes, "gnn_scatternd",
        [h.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", NODES, FEATS]),
         h.make_tensor_value_info("edge_index", TensorProto.INT64, ["batch", EDGES, 2])],
        [h.make_tensor_value_info("x_out", TensorProto.FLOAT, ["batch", NODES, FEATS])],
        initializer=inits,
    )
    return finish_model(graph, "tpat-recipes")


if __name__ == "__main__":
    write_model_main(build, __file__)
