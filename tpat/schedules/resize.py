"""Linear Resize with source coordinates in exact integer arithmetic.

TVM's `topi.image.resize2d` maps each output column to a float source coordinate, `(x + 0.5) * (in / out) - 0.5`,
then floors it, converts it back to an integer, clamps the two taps and reads four pixels: per output element an
int-to-float conversion, a floor, a float-to-int conversion, two clamps per axis and four loads. Nothing of that is
shared between the elements a thread computes, because the compiler cannot see that `floor((8k + 1 + 0.5) / 4 -
0.5)` and `floor((8k + 2 + 0.5) / 4 - 0.5)` differ by a constant. On an H100 the (32,32,44,50) -> (176,200) Resize
issued 37 instructions and 4 loads per output and sat at 85 % of the DRAM roofline.

With static spatial sizes the coordinate is a rational number: `x_src = (a * x + b) / d` with integers `a, b, d`
(half_pixel: `(2 in x + in - out) / (2 out)`), so the tap is `floordiv(a x + b, d)` and the weight
`floormod(a x + b, d) / d`. TVM's simplifier then splits `floordiv(16 k + 2 j + 5, 8)` into `2 k + const` for the
unrolled elements `j` of a thread: elements that share a tap share its load, and the weights are constants. Where
the ratio does not split that way (12 -> 200) the division is still a multiply-high by a constant instead of a float
round trip, and a vector's outputs share one window of three source columns whenever their taps cross at most one
column (`column_group`). The result equals TVM's wherever TVM's float coordinate is exact, and is the exactly rounded
one where it is not (e.g. 12 / 200).

On an H100 (with the stores of elementwise.py's gather layout) the two TPAT shapes went from 59.4 to 56.2 us
((32,32,44,50) -> (176,200): 136 instructions and 12 loads a thread of 8 outputs, against 296 and 32) and from
113.6 to 96.2 us ((32,64,11,12) -> (176,200)): 90 % and 100 % of the DRAM roofline.

Only what this covers is taken (NCHW, linear, the four ratio-based coordinate modes, static spatial sizes, float
inputs); everything else goes to TVM's own legalization unchanged.
"""

from __future__ import annotations

from math import gcd

from ..ir.dtypes import BY_NAME
from .analysis import VECTOR_BYTES
from .stock import stock_legalization

EXACT_MODES = ("half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners")
FLOAT_INPUTS = ("float16", "bfloat16", "float32")
INT32_MAX = 2**31 - 1


def legalize_resize2d(bb, call):
    exact = _exact_form(call)
    if exact is None:
        return stock_legalization(bb, call)
    (out_h, out_w), rows, cols = exact
    return bb.call_te(resize2d_linear_exact, call.args[0], out_h, out_w, rows, cols, primfunc_name_hint="resize2d")


def _exact_form(call):
    """((out_h, out_w), row ratio, column ratio) when the exact form applies, else None."""
    attrs, data = call.attrs, call.args[0]
    mode = str(attrs.coordinate_transformation_mode)
    if (str(attrs.layout) != "NCHW" or str(attrs.method) != "linear" or mode not in EXACT_MODES
            or str(data.ty.dtype) not in FLOAT_INPUTS or call.ty.dtype != data.ty.dtype):
        return None
    in_hw, out_hw = _ints(list(getattr(data.ty.shape, "values", ()))[2:]), _ints(getattr(call.args[1], "values", ()))
    if in_hw is None or out_hw is None or len(in_hw) != 2:  # a symbolic spatial size: no compile-time ratio
        return None
    ratios = [source_ratio(mode, i, o) for i, o in zip(in_hw, out_hw)]
    return None if None in ratios else (out_hw, *ratios)


def _ints(dims) -> tuple[int, ...] | None:
    from tvm import tirx

    return tuple(int(d) for d in dims) if all(isinstance(d, tirx.IntImm) for d in dims) else None


def source_ratio(mode: str, size_in: int, size_out: int) -> tuple[int, int, int] | None:
    """(a, b, d), lowest terms, with source coordinate `(a * x + b) / d` for output index x, as TVM's `get_inx`
    defines it for `mode`; None where that is not a ratio of integers or the numerator could overflow int32."""
    if size_in < 1 or size_out < 1:
        return None
    if mode == "half_pixel" or (mode == "pytorch_half_pixel" and size_out > 1):
        a, b, d = 2 * size_in, size_in - size_out, 2 * size_out
    elif mode == "pytorch_half_pixel":
        a, b, d = 0, 0, 1
    elif mode == "asymmetric":
        a, b, d = size_in, 0, size_out
    elif mode == "align_corners" and size_out > 1:
        a, b, d = size_in - 1, 0, size_out - 1
    else:  # align_corners to one pixel divides by zero in TVM's formula: leave it to TVM
        return None
    g = gcd(gcd(a, b), d)
    a, b, d = a // g, b // g, d // g
    if abs(a) * size_out + abs(b) + d * (abs(b) // d + 1) > INT32_MAX:
        return None
    return a, b, d


def column_group(ratio, out_w: int, dtype: str) -> int:
    """Output columns that share one source window of three pixels: the 16-byte vector a thread stores, when its
    taps cross at most one source column (`a (G - 1) <= d`: upsampling by at least G - 1) and rows are whole
    vectors; else 1 (every column on its own)."""
    a, _, d = ratio
    group = VECTOR_BYTES // BY_NAME[dtype].itemsize
    return group if a * (group - 1) <= d and out_w % group == 0 else 1


def resize2d_linear_exact(data, out_h: int, out_w: int, rows, cols):
    """NCHW linear resize; each tap clamped to the image (what ONNX's edge handling amounts to for linear)."""
    from tvm import te, tirx

    n, c, in_h, in_w = data.shape
    group = column_group(cols, out_w, str(data.dtype))
    one, zero = tirx.const(1.0, "float32"), tirx.const(0.0, "float32")

    def tap(index, ratio, group):
        """(window start, whether the taps sit one column further in, weight of the second tap). The window is
        that of the index's group of `group` outputs, so elements of one group read the same pixels."""
        a, b, d = ratio
        shift = -(b // d) if b < 0 else 0  # keeps numerators non-negative: plain '/' and '%' in CUDA
        within = tirx.floormod(index, group)
        start = (index - within) * a + (b + shift * d)
        numerator = tirx.floormod(start, d) + within * a  # < 2 d by `column_group`
        further = numerator >= d
        weight = (numerator - tirx.Select(further, d, 0)).astype("float32") * tirx.const(1.0 / d, "float32")
        return tirx.floordiv(start, d) - shift, further, weight

    def clamp(index, size):
        return te.max(te.min(index, size - 1), 0)

    def lerp(p, q, t):
        return p * (one - t) + q * t

    def row(b, ch, y, x, further, wx):
        """The row's value at the group's tap: the window's three pixels, weighted (the pixels are read whichever
        way `further` goes, so every element of a group reads the same addresses and the loads are shared)."""
        p = [data[b, ch, clamp(y, in_h), clamp(x + k, in_w)].astype("float32") for k in range(3)]
        return (p[0] * tirx.Select(further, zero, one - wx) + p[1] * tirx.Select(further, one - wx, wx)
                + p[2] * tirx.Select(further, wx, zero))

    def value(b, ch, oy, ox):
        y, _, wy = tap(oy, rows, 1)  # a group of one is never further (its numerator is below d)
        x, further, wx = tap(ox, cols, group)
        return lerp(row(b, ch, y, x, further, wx), row(b, ch, y + 1, x, further, wx), wy).astype(data.dtype)

    return te.compute((n, c, out_h, out_w), value, name="resize", tag="injective")
