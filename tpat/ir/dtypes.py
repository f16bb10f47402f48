"""The dtypes a plugin can carry, with their ONNX, numpy, C and TensorRT spellings in one table.

TensorRT 10+ has real int64 and bool tensors, so nothing is narrowed (TPAT rewrote int64 to int32 in the CUDA
text, which overflowed silently). float64 has no TensorRT type and is refused with a clear error upstream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    name: str  # numpy spelling, also the JSON form
    onnx: int  # onnx.TensorProto enum value
    c: str  # C type in kernels and launchers
    trt: str  # nvinfer1::DataType enumerator
    itemsize: int


_TABLE = (
    DType("float32", 1, "float", "kFLOAT", 4),
    DType("float16", 10, "half", "kHALF", 2),
    DType("bfloat16", 16, "nv_bfloat16", "kBF16", 2),
    DType("int8", 3, "int8_t", "kINT8", 1),
    DType("uint8", 2, "uint8_t", "kUINT8", 1),
    DType("int32", 6, "int32_t", "kINT32", 4),
    DType("int64", 7, "int64_t", "kINT64", 8),
    DType("bool", 9, "bool", "kBOOL", 1),
)
BY_NAME = {d.name: d for d in _TABLE}
BY_ONNX = {d.onnx: d for d in _TABLE}


def dtype_from_name(name: str) -> DType:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"dtype {name!r} is not supported (supported: {', '.join(BY_NAME)})") from None


def dtype_from_onnx(elem_type: int) -> DType | None:
    """None for ONNX types TensorRT plugins cannot carry (double, strings, complex, uint16/32/64...)."""
    return BY_ONNX.get(elem_type)
