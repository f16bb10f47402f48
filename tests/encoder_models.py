"""A small transformer encoder built in code (numpy + onnx), shaped like what exporters write for BERT: per layer
Q/K/V projections, scores / sqrt(d) + mask -> Softmax, output projection + residual Add -> LayerNormalization, a
feed-forward with erf-GELU (HF's form: x*0.5 * (1 + erf(x/sqrt 2)), or torch's chain Div, Erf, Add, Mul, Mul),
residual Add -> LayerNormalization. Dynamic `batch` and `seq`. Every layer has its own random weights (seed 0)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

HIDDEN, HEADS, FF = 32, 2, 64
GELU_DAG = {"half": "Mul", "scaled": "Div", "erf": "Erf(scaled)", "one": "Add(erf)", "gelu": "Mul(half, one)"}
GELU_CHAIN = ["Div", "Erf", "Add", "Mul", "Mul"]


def encoder(layers: int = 3, gelu: str = "hf", seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    d = HIDDEN // HEADS
    inits = [nh.from_array(np.array([0, 0, HEADS, d], np.int64), "heads_shape"),
             nh.from_array(np.array([0, 0, HIDDEN], np.int64), "merged_shape"),
             nh.from_array(np.array(np.sqrt(d), np.float32), "sqrt_d"),
             nh.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
             nh.from_array(np.array(1.0, np.float32), "one"),
             nh.from_array(np.array(0.5, np.float32), "half")]
    nodes = []

    def weight(name, *shape, scale=0.2, base=0.0):
        inits.append(nh.from_array((base + rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def node(op, inputs, name, **attrs):
        out = f"{name}_out"
        nodes.append(h.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def dense(x, p, n_in, n_out):
        return node("Add", [node("MatMul", [x, weight(f"{p}.w", n_in, n_out)], f"{p}/MatMul"),
                            weight(f"{p}.b", n_out)], f"{p}/Add")

    def add_norm(x, residual, p):
        s = node("Add", [x, residual], f"{p}/Add_residual")
        return node("LayerNormalization", [s, weight(f"{p}.gamma", HIDDEN, base=1.0), weight(f"{p}.beta", HIDDEN)],
                    f"{p}/LayerNorm", axis=-1, epsilon=1e-12)

    x = "hidden_states"
    for i in range(layers):
        p = f"/encoder/layer.{i}"
        heads = {}
        for kind, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            r = node("Reshape", [dense(x, f"{p}/attention/{kind}", HIDDEN, HIDDEN), "heads_shape"], f"{p}/{kind}/Reshape")
            heads[kind] = node("Transpose", [r], f"{p}/{kind}/Transpose", perm=perm)
        scores = node("MatMul", [heads["q"], heads["k"]], f"{p}/attention/MatMul_qk")
        scaled = node("Div", [scores, "sqrt_d"], f"{p}/attention/Div")
        masked = node("Add", [scaled, "attention_mask"], f"{p}/attention/Add_mask")
        probs = node("Softmax", [masked], f"{p}/attention/Softmax", axis=-1)
        ctx = node("MatMul", [probs, heads["v"]], f"{p}/attention/MatMul_v")
        ctx = node("Transpose", [ctx], f"{p}/attention/Transpose_ctx", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "merged_shape"], f"{p}/attention/Reshape_ctx")
        h1 = add_norm(dense(ctx, f"{p}/attention/output", HIDDEN, HIDDEN), x, f"{p}/attention/output")
        f = dense(h1, f"{p}/intermediate", HIDDEN, FF)
        if gelu == "hf":
            half = node("Mul", [f, "half"], f"{p}/gelu/Mul_half")
            e = node("Erf", [node("Div", [f, "sqrt2"], f"{p}/gelu/Div")], f"{p}/gelu/Erf")
            g = node("Mul", [half, node("Add", [e, "one"], f"{p}/gelu/Add")], f"{p}/gelu/Mul")
        else:
            e = node("Erf", [node("Div", [f, "sqrt2"], f"{p}/gelu/Div")], f"{p}/gelu/Erf")
            g = node("Mul", [node("Mul", [f, node("Add", [e, "one"], f"{p}/gelu/Add")], f"{p}/gelu/Mul_x"), "half"],
                     f"{p}/gelu/Mul_half")
        x = add_norm(dense(g, f"{p}/output", FF, HIDDEN), h1, f"{p}/output")
    nodes.append(h.make_node("Identity", [x], ["last_hidden_state"], name="/encoder/output"))
    graph = h.make_graph(nodes, "encoder",
                         [h.make_tensor_value_info("hidden_states", T.FLOAT, ["batch", "seq", HIDDEN]),
                          h.make_tensor_value_info("attention_mask", T.FLOAT, ["batch", 1, 1, "seq"])],
                         [h.make_tensor_value_info("last_hidden_state", T.FLOAT, ["batch", "seq", HIDDEN])],
                         initializer=inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="tpat-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
