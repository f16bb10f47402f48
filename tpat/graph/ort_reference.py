"""onnxruntime as a reference: sessions whose results do not depend on its thread pool.

onnxruntime's CPU ScatterND and ScatterElements split the updates over threads, and with a reduction (add, mul,
max, min) two threads may update the same element at once: with repeated indices -- a GNN's messages onto their
nodes -- its output is wrong by a race (measured: ScatterND add of 16,384 updates onto 1,024 rows, 16 threads,
max abs err 4.5 against float64, 0 to 2e-5 on one thread). A reference must not race, so a model with such a node
runs on one thread; every other model keeps onnxruntime's default.
"""

from __future__ import annotations

import onnx

RACY_WITH_A_REDUCTION = ("ScatterND", "ScatterElements")


def has_racy_reduction(model: onnx.ModelProto) -> bool:
    """Whether `model` (subgraphs included) holds a scatter with a reduction onnxruntime may run racily."""
    def walk(graph) -> bool:
        for node in graph.node:
            if node.op_type in RACY_WITH_A_REDUCTION and node.domain in ("", "ai.onnx") and any(
                    a.name == "reduction" and a.s not in (b"", b"none") for a in node.attribute):
                return True
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH and walk(a.g):
                    return True
                if a.type == onnx.AttributeProto.GRAPHS and any(walk(g) for g in a.graphs):
                    return True
        return False
    return walk(model.graph)


def session_options(model: onnx.ModelProto | None = None, **settings):
    """onnxruntime SessionOptions (quiet; `settings` set as attributes), on one thread where `model` needs it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    for name, value in settings.items():
        setattr(opts, name, value)
    if model is not None and has_racy_reduction(model):
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
    return opts
