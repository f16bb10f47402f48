"""A cast of a choice between two constants folded into the constants: `(half)(c ? 1.0 : 0.0)` as `c ? 1h : 0h`.

ONNX OneHot's TVM frontend builds the one-hot values in fp64 and casts them to the output's type:
`(half)(c ? 1.0 : 0.0)` an element, a select between doubles and an F2F.F16.F64 conversion, which an H200 runs at
16 a clock an SM (an eighth of an fp32 instruction's rate). The fp16 OneHot (2048, 26, 1000) converted 8 doubles
for each 16-byte vector it wrote: 38.2 us, 65 % of the DRAM roofline, where its output alone takes 24.8.
Casting a constant at compile time gives what the GPU's conversion gives at run time (both round to nearest,
ties to even: numpy's conversions do, as CUDA's `(half)double`, `(float)double` and `(half)float` do), so the
select chooses between the converted constants and no conversion is left to run: 37.5 -> 36.9 us (static twin
35.3 -> 34.4), old and new kernels side by side on the H200. What is left of the gap is instructions, not the
conversions (104 a thread for its 16 bytes).

Folded: casts to a float type of a Select whose two values are float or integer constants (scalars or
broadcasts), converted by numpy. Other casts keep their place. It runs on the device module with
`unpredicated_loads` (`device_pipeline.py`).
"""

from __future__ import annotations


def constant_casts():
    """The module pass (see the module docstring)."""
    from .device_pass import body_pass

    return body_pass("tpat.ConstantCasts", _rewritten)


def converted(value, source: str, target: str):
    """`value` (a constant of dtype `source`) as the GPU's cast to `target` gives it, or None where numpy has no
    such type (bfloat16 through ml_dtypes)."""
    import numpy as np

    types = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
    try:
        import ml_dtypes

        types["bfloat16"] = ml_dtypes.bfloat16
    except ImportError:  # pragma: no cover - onnx brings ml_dtypes
        pass
    if target not in types or not (source in types or source.startswith(("int", "uint"))):
        return None
    src = types.get(source) or np.dtype(source).type
    with np.errstate(over="ignore"):  # past the target's range: infinity, as on the GPU
        return float(np.asarray(value, dtype=src).astype(types[target]))


def _rewritten(body):
    import tvm_ffi
    from tvm import tirx

    def constant(expr):
        """(python value, scalar dtype, lanes or None) of a constant or a broadcast constant."""
        lanes = None
        if isinstance(expr, tirx.Broadcast):
            expr, lanes = expr.value, expr.lanes
        if isinstance(expr, (tirx.FloatImm, tirx.IntImm)):
            return expr.value, str(expr.ty), lanes
        return None

    def cast(node):
        target = str(node.ty.dtype.with_lanes(1))  # the element type ("float16" of float16x4)
        select = node.value
        if not isinstance(select, tirx.Select) or not target.startswith(("float", "bfloat")):
            return node
        values = [constant(select.true_value), constant(select.false_value)]
        if None in values:
            return node
        folded = []
        for value, source, lanes in values:
            result = converted(value, source, target)
            if result is None:
                return node
            scalar = tirx.const(result, target)
            folded.append(tirx.Broadcast(scalar, lanes) if lanes is not None else scalar)
        return tirx.Select(select.condition, folded[0], folded[1])

    return tvm_ffi.structural_map(body, (tirx.Cast, cast))
