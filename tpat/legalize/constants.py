"""Ops that only make constants (window functions, the mel filter bank) when their inputs are constants, which
their size-like inputs are in real models: evaluated with ONNX's own reference implementation at import, so the
plugin copies the result (a launch plan's copy from a constant). A runtime input is refused as before."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper
from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import constant_value


def _by_reference(op: str):
    class ByReference(OnnxOpConverter):
        @classmethod
        def get_converter(cls, model_opset):
            def convert(bb, inputs, attr, params):
                values = [constant_value(x, params) for x in inputs]
                if any(v is None for v in values):
                    raise ValueError(f"{op} with a runtime input: tpat evaluates it only from constants")
                return relax.const(_evaluate(op, model_opset, values, attr))

            return convert

    ByReference.__name__ = op
    return ByReference


def _evaluate(op: str, opset: int, values: list, attr: dict) -> np.ndarray:
    from onnx.reference import ReferenceEvaluator

    names = [f"i{k}" for k in range(len(values))]
    attrs = {k: v for k, v in attr.items() if k != "tvm_custom"}
    node = helper.make_node(op, names, ["y"], **attrs)
    inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in zip(names, values)]
    graph = helper.make_graph([node], "c", [], [helper.make_tensor_value_info("y", onnx.TensorProto.UNDEFINED,
                                                                              None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    (out,) = ReferenceEvaluator(model).run(None, {})
    return np.asarray(out)


CONVERTERS = {op: _by_reference(op) for op in ("HannWindow", "HammingWindow", "BlackmanWindow",
                                                    "MelWeightMatrix")}
