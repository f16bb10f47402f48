"""erf rounded to a 16-bit float (tpat/schedules/half_precision_erf.py): every finite fp16 and bfloat16 input against
the correctly rounded erf (which kernels get it: tests/integration/test_half_precision_erf_kernels.py)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from tpat.schedules.half_precision_erf import LN_ERFC, SMALL, TWO_OVER_SQRT_PI

F32 = np.float32


def _approx(x: np.ndarray) -> np.ndarray:
    """The pass's expression in fp32 arithmetic, step by step (e^ as numpy's, the GPU's __expf is tested in
    tests/gpu)."""
    x = x.astype(F32)
    t = np.abs(x)
    with np.errstate(over="ignore", invalid="ignore"):  # infinities and NaN are among the inputs
        poly = F32(LN_ERFC[-1])
        for coefficient in reversed(LN_ERFC[:-1]):
            poly = (poly * t + F32(coefficient)).astype(F32)
        large = np.copysign(F32(1) - np.exp(poly * t).astype(F32), x)
        small = (x * F32(TWO_OVER_SQRT_PI)).astype(F32)
    return np.where(t < F32(SMALL), small, large)


def _ordinal(values: np.ndarray, dtype) -> np.ndarray:
    """Each value's place on the dtype's number line (adjacent values differ by 1)."""
    bits = values.astype(dtype).view(np.int16).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFF), bits)


@pytest.mark.parametrize("dtype, most", [(np.float16, 100), (ml_dtypes.bfloat16, 10)])
def test_every_finite_sixteen_bit_input_rounds_to_erf_or_its_neighbour(dtype, most):
    """The 63,488 finite halves (65,280 bfloat16s): the fast erf, rounded, is the correctly rounded erf for all but
    a few, and one ulp from it for those."""
    x = np.arange(1 << 16, dtype=np.uint16).view(dtype).astype(np.float32)  # NaNs and infinities exact in fp32
    x = x[np.isfinite(x)].astype(np.float64)
    exact = np.array([math.erf(v) for v in x])
    off = np.abs(_ordinal(exact, dtype) - _ordinal(_approx(x), dtype))
    assert off.max() == 1
    assert 0 < np.count_nonzero(off) <= most, np.count_nonzero(off)


def test_dense_fp32_arguments_round_within_one_ulp():
    """erf's argument is fp32 (the half is scaled or biased first in a GELU): a dense sweep of fp32 values."""
    x = np.concatenate([np.linspace(-5, 5, 400_001), np.geomspace(1e-30, 5, 200_000),
                        -np.geomspace(1e-30, 5, 200_000)]).astype(F32)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    for dtype in (np.float16, ml_dtypes.bfloat16):
        off = np.abs(_ordinal(exact, dtype) - _ordinal(_approx(x), dtype))
        assert off.max() <= 1, dtype


def test_special_values():
    got = _approx(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 3.0, 1e30, -70000.0], F32))
    assert got[0] == 1 and got[1] == -1 and np.isnan(got[2])
    assert got[3] == 0 and np.signbit(got[4]), "erf(-0) = -0"
    assert got[5].astype(np.float16) == 1 and got[6] == 1 and got[7] == -1


def test_past_the_fit_the_polynomial_keeps_falling():
    """P(t) < -8.3 for every t > 2.6 (so erf rounds to 1 in 16 bits there), checked out to where it overflows."""
    t = np.linspace(2.6, 1e4, 2_000_001).astype(F32)
    poly = F32(LN_ERFC[-1])
    for coefficient in reversed(LN_ERFC[:-1]):
        poly = poly * t + F32(coefficient)
    assert (poly * t).max() < -8.3
