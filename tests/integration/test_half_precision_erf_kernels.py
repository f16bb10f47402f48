"""Which kernels evaluate erf to 16 bits (tpat/schedules/half_precision_erf.py): fp16 and bfloat16 erf, and the erf
inside an fp16 GELU; fp32 keeps CUDA's erff."""

from __future__ import annotations

import pytest
from onnx import TensorProto as T
from onnx import helper as h

from node_helpers import fixed_model, kernel_bodies, lower_node


def _erf_model(elem):
    return fixed_model(h.make_node("Erf", ["x"], ["y"], name="e"), [h.make_tensor_value_info("x", elem, [64, 4096])],
                       [h.make_tensor_value_info("y", elem, [64, 4096])])


@pytest.mark.parametrize("elem", [T.FLOAT16, T.BFLOAT16])
def test_a_sixteen_bit_erf_kernel_has_no_erff(elem):
    _, low = lower_node(_erf_model(elem), {})
    body = kernel_bodies(low.cuda_source)
    assert "__expf(" in body and "erff(" not in body


def test_an_fp32_erf_keeps_erff():
    _, low = lower_node(_erf_model(T.FLOAT), {})
    body = kernel_bodies(low.cuda_source)
    assert "erff(" in body and "__expf(" not in body


def test_an_fp16_gelu_selects_rather_than_branches():
    """The large-argument value is bound ahead of the select: written inside it, nvcc made it a branch (224 SASS
    instructions for 8 halves, 168 with it bound)."""
    model = fixed_model(h.make_node("Gelu", ["x"], ["y"], name="g"),
                        [h.make_tensor_value_info("x", T.FLOAT16, [64, 4096])],
                        [h.make_tensor_value_info("y", T.FLOAT16, [64, 4096])], opset=20)
    _, low = lower_node(model, {})
    body = kernel_bodies(low.cuda_source)
    assert "float erf_large = " in body and "? (erf_x * " in body and "erff(" not in body
