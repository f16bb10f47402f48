"""Single-op ONNX models for the core-engine op list, built in code (no downloads).

Each has a dynamic batch on axis 0 (dim_param "batch", or TPAT's 0 convention for `zero_batch=True`), shapes
small enough that batch 256 fits easily, and constants where the op takes them (so baking-in is exercised).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 17
B = "batch"


def _model(node, inputs, outputs, inits=(), opset=OPSET) -> onnx.ModelProto:
    graph = h.make_graph([node], f"{node.op_type.lower()}_graph", inputs, outputs, initializer=list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="tpat-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _vi(name, elem, shape):
    return h.make_tensor_value_info(name, elem, shape)


def softmax(dtype=T.FLOAT) -> onnx.ModelProto:
    return _model(h.make_node("Softmax", ["x"], ["y"], name="softmax_0", axis=-1),
                  [_vi("x", dtype, [B, 8, 128])], [_vi("y", dtype, [B, 8, 128])])


def softmax_fp16() -> onnx.ModelProto:
    return softmax(T.FLOAT16)


def layer_norm() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    return _model(h.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], name="ln/0", axis=-1, epsilon=1e-5),
                  [_vi("x", T.FLOAT, [B, 16, 64])], [_vi("y", T.FLOAT, [B, 16, 64])],
                  [nh.from_array(rng.standard_normal(64).astype(np.float32), "gamma"),
                   nh.from_array(rng.standard_normal(64).astype(np.float32), "beta")])


def one_hot() -> onnx.ModelProto:
    return _model(h.make_node("OneHot", ["idx", "depth", "values"], ["y"], name="onehot", axis=-1),
                  [_vi("idx", T.INT64, [B, 13])], [_vi("y", T.FLOAT, [B, 13, 16])],
                  [nh.from_array(np.array(16, np.int64), "depth"), nh.from_array(np.array([0.0, 1.0], np.float32),
                                                                                 "values")])


def one_hot_fp16() -> onnx.ModelProto:
    """Half output: 8 lanes a vector, computed as two halves of 4 (its int64 comparison has no 8-lane type)."""
    return _model(h.make_node("OneHot", ["idx", "depth", "values"], ["y"], name="onehot_fp16", axis=-1),
                  [_vi("idx", T.INT64, [B, 13])], [_vi("y", T.FLOAT16, [B, 13, 16])],
                  [nh.from_array(np.array(16, np.int64), "depth"), nh.from_array(np.array([0.0, 1.0], np.float16),
                                                                                 "values")])


def gather_nd() -> onnx.ModelProto:
    return _model(h.make_node("GatherND", ["data", "indices"], ["y"], name="gather_nd", batch_dims=1),
                  [_vi("data", T.FLOAT, [B, 16, 8]), _vi("indices", T.INT64, [B, 5, 1])],
                  [_vi("y", T.FLOAT, [B, 5, 8])])


def scatter_nd() -> onnx.ModelProto:
    return _model(h.make_node("ScatterND", ["data", "indices", "updates"], ["y"], name="scatter_nd"),
                  [_vi("data", T.FLOAT, [B, 16, 8]), _vi("indices", T.INT64, [B, 5, 2]),
                   _vi("updates", T.FLOAT, [B, 5, 8])], [_vi("y", T.FLOAT, [B, 16, 8])])


def scatter_nd_add() -> onnx.ModelProto:
    """reduction=add: tpat's flat scatter with atomicAdd (duplicate index tuples must accumulate)."""
    return _model(h.make_node("ScatterND", ["data", "indices", "updates"], ["y"], name="scatter_nd_add",
                              reduction="add"),
                  [_vi("data", T.FLOAT, [B, 16, 8]), _vi("indices", T.INT64, [B, 24, 2]),
                   _vi("updates", T.FLOAT, [B, 24, 8])], [_vi("y", T.FLOAT, [B, 16, 8])])


def erf_fp16() -> onnx.ModelProto:
    """fp16 elementwise: 8-wide vector loads and stores, with a tail block for odd batches."""
    return _model(h.make_node("Erf", ["x"], ["y"], name="erf_fp16"), [_vi("x", T.FLOAT16, [B, 40])],
                  [_vi("y", T.FLOAT16, [B, 40])])


def scatter_elements_add() -> onnx.ModelProto:
    return _model(h.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], name="scatter_el",
                              axis=1, reduction="add"),
                  [_vi("data", T.FLOAT, [B, 32]), _vi("indices", T.INT64, [B, 10]), _vi("updates", T.FLOAT, [B, 10])],
                  [_vi("y", T.FLOAT, [B, 32])])


def gather_elements() -> onnx.ModelProto:
    """Under a dynamic batch its converter passes the batch to a kernel as a scalar variable (issue 18: "kernel
    argument batch has no known storage")."""
    return _model(h.make_node("GatherElements", ["x", "i"], ["y"], name="gather_el", axis=1),
                  [_vi("x", T.FLOAT, [B, 16]), _vi("i", T.INT64, [B, 4])], [_vi("y", T.FLOAT, [B, 4])])


def transpose_021() -> onnx.ModelProto:
    """The innermost axis moves: a shared-memory tile (tpat/schedules/transpose.py), the batch in the grid."""
    return _model(h.make_node("Transpose", ["x"], ["y"], name="transpose_021", perm=[0, 2, 1]),
                  [_vi("x", T.FLOAT, [B, 64, 96])], [_vi("y", T.FLOAT, [B, 96, 64])])


def transpose_ragged() -> onnx.ModelProto:
    """(batch, 48, 40) -> (batch, 40, 48): tiles of 32 with guarded ragged last tiles on both axes."""
    return _model(h.make_node("Transpose", ["x"], ["y"], name="transpose_ragged", perm=[0, 2, 1]),
                  [_vi("x", T.FLOAT, [B, 48, 40])], [_vi("y", T.FLOAT, [B, 40, 48])])


def transpose_0213_fp16() -> onnx.ModelProto:
    """The innermost axis stays: rows of 32 halves moved as 16-byte vectors under a dynamic (int64) batch."""
    return _model(h.make_node("Transpose", ["x"], ["y"], name="transpose_0213", perm=[0, 2, 1, 3]),
                  [_vi("x", T.FLOAT16, [B, 16, 4, 32])], [_vi("y", T.FLOAT16, [B, 4, 16, 32])])


def split3() -> onnx.ModelProto:
    """Three outputs, one kernel each, every one moving 16-byte vectors (a function of several blocks)."""
    return _model(h.make_node("Split", ["x"], ["a", "b", "c"], name="split3", axis=-1, num_outputs=3),
                  [_vi("x", T.FLOAT, [B, 4, 96])], [_vi(n, T.FLOAT, [B, 4, 32]) for n in "abc"], opset=18)


def concat3_fp16() -> onnx.ModelProto:
    """Inputs 16 halves wide (a multiple of the 8-half vector): each vector from one input, one branch."""
    return _model(h.make_node("Concat", ["a", "b", "c"], ["y"], name="concat3", axis=-1),
                  [_vi(n, T.FLOAT16, [B, 4, 16]) for n in "abc"], [_vi("y", T.FLOAT16, [B, 4, 48])])


def max_pool_fp16() -> onnx.ModelProto:
    """3x3, stride 2, pad 1, half precision: the row rule's small-window path (a thread per output)."""
    return _model(h.make_node("MaxPool", ["x"], ["y"], name="max_pool", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
                  [_vi("x", T.FLOAT16, [B, 4, 14, 14])], [_vi("y", T.FLOAT16, [B, 4, 7, 7])])


def topk() -> onnx.ModelProto:
    """k=4 of rows of 300 (not a multiple of the warp's 32 lanes): a warp per row, lanes merged by shuffles."""
    return _model(h.make_node("TopK", ["x", "k"], ["values", "indices"], name="topk", axis=-1),
                  [_vi("x", T.FLOAT, [B, 300])], [_vi("values", T.FLOAT, [B, 4]), _vi("indices", T.INT64, [B, 4])],
                  [nh.from_array(np.array([4], np.int64), "k")])


def cumsum() -> onnx.ModelProto:
    """Rows of 1500: a block per row over two tiles of 1024 and a ragged end."""
    return _model(h.make_node("CumSum", ["x", "axis"], ["y"], name="cumsum"),
                  [_vi("x", T.FLOAT, [B, 1500])], [_vi("y", T.FLOAT, [B, 1500])],
                  [nh.from_array(np.array(1, np.int64), "axis")])


def resize_linear() -> onnx.ModelProto:
    return _model(h.make_node("Resize", ["x", "", "scales"], ["y"], name="resize", mode="linear"),
                  [_vi("x", T.FLOAT, [B, 3, 8, 10])], [_vi("y", T.FLOAT, [B, 3, 16, 20])],
                  [nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])


def reduce_max() -> onnx.ModelProto:
    return _model(h.make_node("ReduceMax", ["x"], ["y"], name="reduce_max", axes=[1], keepdims=0),
                  [_vi("x", T.FLOAT, [B, 82, 16])], [_vi("y", T.FLOAT, [B, 16])])


def erf() -> onnx.ModelProto:
    return _model(h.make_node("Erf", ["x"], ["y"], name="erf"), [_vi("x", T.FLOAT, [B, 64])],
                  [_vi("y", T.FLOAT, [B, 64])])


def einsum() -> onnx.ModelProto:
    w = np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32)
    return _model(h.make_node("Einsum", ["x", "w"], ["y"], name="einsum", equation="bij,jk->bik"),
                  [_vi("x", T.FLOAT, [B, 4, 16])], [_vi("y", T.FLOAT, [B, 4, 8])], [nh.from_array(w, "w")])


def mod_int() -> onnx.ModelProto:
    return _model(h.make_node("Mod", ["a", "b"], ["y"], name="mod", fmod=0),
                  [_vi("a", T.INT32, [B, 20]), _vi("b", T.INT32, [B, 20])], [_vi("y", T.INT32, [B, 20])])


CORE_OPS: dict[str, Callable[[], onnx.ModelProto]] = {
    "Softmax": softmax,
    "LayerNormalization": layer_norm,
    "OneHot": one_hot,
    "GatherND": gather_nd,
    "ScatterND": scatter_nd,
    "ScatterElements": scatter_elements_add,
    "Resize": resize_linear,
    "ReduceMax": reduce_max,
    "Erf": erf,
    "Einsum": einsum,
    "Mod": mod_int,
}


def softmax_bf16() -> onnx.ModelProto:
    return softmax(T.BFLOAT16)


def layer_norm_long_rows() -> onnx.ModelProto:
    """LayerNorm over rows of 768 with a dynamic batch: long rows, each lane's share and gamma/beta in vectors."""
    rng = np.random.default_rng(4)
    return _model(h.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], name="ln_768", axis=-1),
                  [_vi("x", T.FLOAT, [B, 4, 768])], [_vi("y", T.FLOAT, [B, 4, 768])],
                  [nh.from_array(rng.standard_normal(768).astype(np.float32), "gamma"),
                   nh.from_array(rng.standard_normal(768).astype(np.float32), "beta")])


EXTRA_OPS: dict[str, Callable[[], onnx.ModelProto]] = {"Softmax_fp16": softmax_fp16, "Softmax_bf16": softmax_bf16,
                                                      "ScatterND_add": scatter_nd_add, "Erf_fp16": erf_fp16,
                                                      "LayerNormalization_768": layer_norm_long_rows,
                                                      "GatherElements": gather_elements,
                                                      "Transpose_021": transpose_021,
                                                      "Transpose_0213_fp16": transpose_0213_fp16,
                                                      "Transpose_ragged": transpose_ragged,
                                                      "Split3": split3, "Concat3_fp16": concat3_fp16,
                                                      "MaxPool_fp16": max_pool_fp16, "TopK_4": topk,
                                                      "CumSum": cumsum, "OneHot_fp16": one_hot_fp16}


def layer_norm_bert_rows(elem=T.FLOAT16) -> onnx.ModelProto:
    """BERT-base LayerNorm at batch 1, fixed shape: few long rows (a vectorised warp each, gamma/beta in vectors)."""
    rng = np.random.default_rng(3)
    np_type = np.float16 if elem == T.FLOAT16 else np.float32
    return _model(h.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], name="ln_bert", axis=-1),
                  [_vi("x", elem, [1, 128, 768])], [_vi("y", elem, [1, 128, 768])],
                  [nh.from_array(rng.standard_normal(768).astype(np_type), "gamma"),
                   nh.from_array(rng.standard_normal(768).astype(np_type), "beta")])


def resize_large() -> onnx.ModelProto:
    """A Resize large enough for two output vectors per thread (1,32,44,50) -> (1,32,176,200), fixed shape."""
    return _model(h.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="resize_large", mode="linear"),
                  [_vi("x", T.FLOAT, [1, 32, 44, 50])], [_vi("y", T.FLOAT, [1, 32, 176, 200])],
                  [nh.from_array(np.array([1, 32, 176, 200], np.int64), "sizes")], opset=19)


# fixed-shape models beside the core ops' fixed variants, for schedules that only fixed shapes reach
FIXED_EXTRAS: dict[str, Callable[[], onnx.ModelProto]] = {
    "LayerNormalization_1x128x768_fp16": layer_norm_bert_rows,
    "Resize_1x32x176x200": resize_large,
}

# (op, dtype policy): fp32 models whose plugin computes in another precision (Casts around it in the model)
POLICY_VARIANTS: dict[str, tuple[str, str]] = {"LayerNormalization_fp16": ("LayerNormalization", "fp16"),
                                               "Resize_fp16": ("Resize", "fp16"), "OneHot_fp16": ("OneHot", "fp16"),
                                               "Softmax_bf16policy": ("Softmax", "bf16")}


def masked_softmax_chain() -> onnx.ModelProto:
    """x -> Mul(scale) -> Add(mask) -> Softmax -> Erf; the masked scores also feed a Relu (a second output)."""
    nodes = [
        h.make_node("Mul", ["x", "scale"], ["scaled"], name="mul"),
        h.make_node("Add", ["scaled", "mask"], ["masked"], name="add_mask"),
        h.make_node("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
        h.make_node("Erf", ["probs"], ["y"], name="erf"),
        h.make_node("Relu", ["masked"], ["side"], name="side_use"),
    ]
    graph = h.make_graph(nodes, "masked_softmax", [_vi("x", T.FLOAT, [B, 4, 128]), _vi("mask", T.FLOAT, [B, 1, 128])],
                         [_vi("y", T.FLOAT, [B, 4, 128]), _vi("side", T.FLOAT, [B, 4, 128])],
                         initializer=[nh.from_array(np.array(0.125, np.float32), "scale")])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="tpat-tests")
    model.ir_version = 8
    return model


# (model, groups of node names fused into one plugin each)
FUSED_GROUPS: dict[str, tuple[Callable[[], onnx.ModelProto], list[list[str]]]] = {
    "MaskedSoftmax": (masked_softmax_chain, [["mul", "add_mask", "softmax"]]),
}
