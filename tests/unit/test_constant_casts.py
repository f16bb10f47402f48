"""Constants converted at compile time as the GPU converts them at run time (tpat/schedules/constant_casts.py)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tpat.schedules.constant_casts import converted


@pytest.mark.parametrize("value, source, target, want", [
    (1.0, "float64", "float16", 1.0),
    (0.1, "float64", "float16", float(np.float16(0.1))),
    (0.1, "float64", "float32", float(np.float32(0.1))),
    (65520.0, "float64", "float16", float("inf")),  # past the largest half, rounds up to infinity
    (2049, "int64", "float16", 2048.0),  # a tie: to even
    (2051, "int32", "float16", 2052.0),
    (16777217, "int64", "float32", 16777216.0),
    (1.00390625, "float32", "bfloat16", float(ml_dtypes.bfloat16(1.00390625))),
])
def test_round_to_nearest_even(value, source, target, want):
    assert converted(value, source, target) == want


def test_no_conversion_for_a_type_it_does_not_know():
    assert converted(1.0, "float64", "int32") is None
    assert converted(1.0, "float8_e4m3fn", "float16") is None
