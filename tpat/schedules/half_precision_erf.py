"""erf rounded to a 16-bit float, evaluated to the precision the rounding keeps: `f16(erf(x))` without CUDA's `erff`.

TVM computes erf of a half or bfloat16 value in fp32 and rounds the result back (`(half)erff((float)x)`). CUDA's
`erff` is accurate to an fp32 ulp, and branch-free: both of its polynomials (degree 6 and 7, a select for each
coefficient) and an exp2 for every element, about 22 instructions. An fp16 GELU at BERT-large widths (8 halves a
thread) was issue-bound with it: 31 instructions an element, 79-84 % of the H200's DRAM roofline.

Rounded to fp16 (11 significant bits) or bfloat16 (8), the result needs far less than fp32's 24 bits. Here
erf(x) = sign(x) * (1 - e^P(|x|)), P a degree-5 polynomial without a constant term fitted to ln(erfc(t)) (relative
error of erf under 7.3e-7 for |x| >= 2^-7, 340 times under fp16's half ulp), e^ by CUDA's `__expf` (one MUFU.EX2
without exp2f's guard for subnormal results, which cannot matter next to 1), and erf(x) = x * 2/sqrt(pi) below 2^-7
(relative error x^2/3 < 2.1e-5), where 1 - e^P would cancel. P falls without bound past the fitted range (negative
leading coefficient; P(t) < -8.3 for every t > 2.6), so erf rounds to exactly +-1 there and at the infinities; NaN
stays NaN. Every finite fp16 input rounds to the correctly rounded erf or its neighbour: 70 of the 63,488 are one ulp
off in fp32 arithmetic here, 78 through the Erf plugin on an H200 (bfloat16: 6 of 65,280). The fp16 GELU takes 21
instructions an element where `erff` made it 31; on the H200, 28.3 -> 26.5 us at (64, 128, 3072), 73.5 -> 66.8 at
(32, 512, 4096), bias+GELU 35.0 -> 27.4 (68 -> 86 % of the roofline). Tests: tests/unit/test_half_precision_erf.py
(every 16-bit input), tests/gpu/test_harness_plugins.py (every finite half through the plugin).

It runs on the device module with `unpredicated_loads`, before TVM lowers `tirx.erf` to `erff`
(`device_pipeline.py`); an erf whose result stays fp32, or is rounded to anything but a 16-bit float, keeps
`erff`.
"""

from __future__ import annotations

SIXTEEN_BIT_FLOATS = ("float16", "bfloat16")
#: ln(erfc(t)) ~ t * (C1 + t * (C2 + ...)), fitted (weighted least squares, iterated towards minimax) for
#: the relative error of erf on [2^-7, 3]
LN_ERFC = (-1.1283799409866333, -0.6365700960159302, -0.10323522984981537, 0.020653897896409035,
           -0.0020767408423125744)
#: below it erf(x) = x * TWO_OVER_SQRT_PI (the series' first term)
SMALL = 2.0 ** -7
TWO_OVER_SQRT_PI = 1.1283791670955126


def half_precision_erf():
    """The module pass: every `Cast(16-bit float, erf(x))` of an fp32 x, and every erf of a 16-bit float,
    evaluated as above."""
    from .device_pass import body_pass

    return body_pass("tpat.HalfPrecisionErf", _rewritten)


def erf_to_sixteen_bits(x):
    """erf(x) (fp32 expression) to the precision of a 16-bit float, as a TIR expression of x (bound once)."""
    from tvm import tirx

    var = tirx.Var("erf_x", "float32")
    t = tirx.abs(var)
    poly = tirx.const(LN_ERFC[-1], "float32")
    for coefficient in reversed(LN_ERFC[:-1]):
        poly = poly * t + tirx.const(coefficient, "float32")
    erfc = tirx.call_pure_extern("float32", "__expf", poly * t)
    large = tirx.Var("erf_large", "float32")  # bound before the select: written inside it, nvcc branched
    small = var * tirx.const(TWO_OVER_SQRT_PI, "float32")
    select = tirx.Select(t < tirx.const(SMALL, "float32"), small, large)
    return tirx.Let(var, x, tirx.Let(large, tirx.copysign(tirx.const(1.0, "float32") - erfc, var), select))


def _rewritten(body):
    import tvm
    import tvm_ffi
    from tvm import tirx

    erf = tvm.ir.Op.get("tirx.erf")

    def is_erf(node, dtypes):
        return isinstance(node, tvm.ir.Call) and node.op.same_as(erf) and str(node.ty) in dtypes

    def cast(node):  # (half)erff((float)x): how TVM writes an fp16 erf
        if str(node.ty) in SIXTEEN_BIT_FLOATS and is_erf(node.value, ("float32",)):
            return tirx.Cast(str(node.ty), erf_to_sixteen_bits(node.value.args[0]))
        return node

    def call(node):  # herf(x): how it writes a bfloat16 one
        if is_erf(node, SIXTEEN_BIT_FLOATS):
            return tirx.Cast(str(node.ty), erf_to_sixteen_bits(tirx.Cast("float32", node.args[0])))
        return node

    return tvm_ffi.structural_map(body, [(tirx.Cast, cast), (tvm.ir.Call, call)])
