"""The environment TPAT's tests were written for, rebuilt from today's packages (see `tpat_tests`).

TPAT pinned onnx 1.10 and TensorFlow 1.15 (its Dockerfile: nvcr.io/nvidia/tensorflow:20.06-tf1-py3, onnx==1.10.0).
Neither installs on Python 3.11, so what its tests import from them is given back, and nothing else is changed:

- `onnx.helper.make_model` without `opset_imports` makes opset 15 models (onnx 1.10's default; today's onnx would
  make opset 2x ones, where e.g. ReduceLogSum's `axes` attribute is invalid and onnxruntime lacks RoiAlign-22);
- `onnx.mapping` (removed in onnx 1.17) from onnx.helper's dtype tables;
- the reference helpers TPAT's tests import from onnx's node test suite under their onnx 1.10 module names
  (`pool_op_common`, `batchnorm`, `softmaxcrossentropy`), from where the installed onnx keeps them;
- `tf` is `tensorflow.compat.v1` with v2 behaviour disabled (TF 1's graph mode, `tf.layers`, `tf.Session`).
"""

from __future__ import annotations

import importlib
import sys
import types
from contextlib import contextmanager

import numpy as np
import onnx
from onnx import helper

ONNX_1_10_OPSET = 15
CASES = "onnx.backend.test.case.node"
# onnx 1.10 module name -> where today's onnx may keep the same helpers, in order of preference
MOVED_HELPERS = {
    "batchnorm": ("batch_normalization",),
    "softmaxcrossentropy": ("softmax_cross_entropy_loss",),
}


def tensorflow_v1():
    """TF 1's API as TPAT's tests use it, or None when TensorFlow is not installed."""
    try:
        import tensorflow
    except ImportError:
        return None
    v1 = tensorflow.compat.v1
    v1.disable_v2_behavior()
    return v1


class AbsentTensorFlow:
    """`tf` where TensorFlow is not installed: a TF-built test fails saying what it needs."""

    def __getattr__(self, name):
        raise ModuleNotFoundError("TensorFlow is not installed in this interpreter: this TPAT test builds its model "
                                  "with TF 1 and tf2onnx (give the collector an interpreter that has them)")


def _mapping() -> types.ModuleType:
    m = types.ModuleType("onnx.mapping")
    to_np = {}
    for code in onnx.TensorProto.DataType.values():
        try:
            to_np[code] = np.dtype(helper.tensor_dtype_to_np_dtype(code))
        except Exception:  # noqa: BLE001 - UNDEFINED, or a type numpy has no dtype for
            continue
    m.TENSOR_TYPE_TO_NP_TYPE = to_np
    m.NP_TYPE_TO_TENSOR_TYPE = {d: helper.np_dtype_to_tensor_dtype(d) for d in set(to_np.values())
                                if d.kind != "V"}
    return m


def _pool_op_common() -> types.ModuleType:
    """onnx 1.10's `pool_op_common.get_output_shape` and `pool(padded, x_shape, kernel, strides, out_shape,
    pad_shape, pooling_type, count_include_pad=0)` on top of today's onnx.reference pool helpers."""
    from onnx.reference.ops import op_pool_common as now

    m = types.ModuleType(f"{CASES}.pool_op_common")
    m.get_output_shape = now.get_output_shape_auto_pad

    def pool(padded, x_shape, kernel_shape, strides_shape, out_shape, pad_shape, pooling_type, count_include_pad=0):
        if any(int(p) for p in pad_shape):
            raise NotImplementedError("onnx 1.10's pool() with padding: give the padded input and [0] pads")
        return now.pool(padded, x_shape, kernel_shape, strides_shape, out_shape, pooling_type,
                        count_include_pad=count_include_pad)

    m.pool = pool
    return m


def _moved(old: str) -> types.ModuleType | None:
    for new in MOVED_HELPERS[old]:
        try:
            return importlib.import_module(f"{CASES}.{new}")
        except ImportError:
            continue
    return None


def _missing_modules() -> dict[str, types.ModuleType]:
    modules = {}
    try:
        from onnx import mapping  # noqa: F401
    except ImportError:
        modules["onnx.mapping"] = _mapping()
    for old in (*MOVED_HELPERS, "pool_op_common"):
        try:
            importlib.import_module(f"{CASES}.{old}")
        except ImportError:
            module = _pool_op_common() if old == "pool_op_common" else _moved(old)
            if module is not None:
                modules[f"{CASES}.{old}"] = module
    return modules


@contextmanager
def onnx_1_10():
    """While TPAT's tests run: onnx as they knew it (module doc); everything is put back afterwards."""
    modules = _missing_modules()
    saved = {k: sys.modules.get(k) for k in modules}
    sys.modules.update(modules)
    if "onnx.mapping" in modules:
        onnx.mapping = modules["onnx.mapping"]
    make_model = helper.make_model

    def make_model_1_10(graph, **kwargs):
        if "opset_imports" not in kwargs:
            kwargs["opset_imports"] = [helper.make_opsetid("", ONNX_1_10_OPSET)]
        return make_model(graph, **kwargs)

    helper.make_model = make_model_1_10
    try:
        yield
    finally:
        helper.make_model = make_model
        if "onnx.mapping" in modules:
            del onnx.mapping
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
