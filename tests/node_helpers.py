"""One node through the first stages, for tests: a model of one node, its extraction, its lowering."""

from __future__ import annotations

import re

import onnx
from onnx import helper as h

from tpat.spec import DimRange
from tpat.stages.extract import extract, prepare_model
from tpat.graph.selection import select_targets

BATCH = {"batch": DimRange(min=1, opt=128, max=256)}


def extract_node(model, dynamic=BATCH, op_type=None, fuse=False):
    """The last node of `model` (or its node of `op_type`; with `fuse`, all its nodes as one plugin), extracted."""
    model = prepare_model(model, dynamic)
    if fuse:
        (target,) = select_targets(model.graph, fuse=[[n.name for n in model.graph.node]])
    else:
        (target,) = select_targets(model.graph, node_types=[op_type or model.graph.node[-1].op_type])
    return extract(model, target, dynamic)


def lower_node(model, dynamic=BATCH, fuse=False):
    """(extraction, lowering) of the model's last node (all its nodes fused, with `fuse`), for sm_90."""
    from tpat.stages.lower import lower

    ex = extract_node(model, dynamic, fuse=fuse)
    return ex, lower(ex.subgraph, ex.signature)


def fixed_model(node, inputs, outputs, inits=(), opset=17):
    """A checked model of one node with fixed shapes."""
    graph = h.make_graph([node], "g", inputs, outputs, initializer=list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def kernel_bodies(src: str) -> str:
    """The device code only (the launcher's host code has its own 64-bit arithmetic)."""
    return "\n".join(m.group(0) for m in re.finditer(r"__global__[^{]*\{.*?\n\}", src, re.S))
