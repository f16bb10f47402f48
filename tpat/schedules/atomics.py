"""Atomic read-modify-write of one tensor element, for scatters with a reduction: every mode and dtype CUDA has a
way for, in one place.

A scatter with a reduction gets one GPU thread per update (`scatter_nd.py`, `scatter_elements.py`); updates that
hit one element (duplicate indices: a GNN aggregating tens of thousands of messages onto a few thousand nodes) must
combine atomically. `add` on fp32/fp16/bf16/fp64/int32 is TVM's own `atomicAdd` intrinsic; everything else calls
`tpat_atomic_<op>` (templates/_atomics.cuh.j2, inserted by `tpat/lowering/cuda_helpers.py`): native `atomicMax`/
`atomicMin` for int32/int64, `atomicAdd` on `unsigned long long` for int64 add, one integer `atomicMax`/`atomicMin`
on the bits for min/max of fp32/fp64 (the sign of the update picks signed or unsigned order: no retry loop; the
compare-and-swap loop it replaced made ScatterND max (64,4096,64) 88 us on an H200 against 65 for add), and a
compare-and-swap loop on the element's bits for mul, and for min/max of 16-bit floats (which stores nothing where
the update does not win). 16-bit elements need `atomicCAS` on `unsigned short` (sm_70 and newer).

ONNX leaves duplicate indices undefined without a reduction, so `update` is a plain store. On a CPU target (tests
compile tpat's legalizations for LLVM) the same kernels run their threads as one serial loop, and the update is a
plain read-modify-write: the index math and the reduction's meaning are checked against onnxruntime that way.
"""

from __future__ import annotations

ATOMIC_ADD_DTYPES = ("float32", "float16", "bfloat16", "float64", "int32")  # TVM's cuda atomic_add intrinsic
DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64")
REDUCTIONS = ("update", "add", "mul", "min", "max")
SIXTEEN_BIT = ("float16", "bfloat16")


def supported(reduction: str, dtype: str, target=None) -> bool:
    """Whether `reduction` on `dtype` elements has an atomic form on `target` (16-bit CAS needs sm_70+)."""
    if reduction == "update":
        return True
    if reduction not in REDUCTIONS or dtype not in DTYPES:
        return False
    if dtype in SIXTEEN_BIT and (reduction != "add" or dtype == "bfloat16"):
        return _sm(target) >= 70
    return True


def on_gpu(target=None) -> bool:
    """The legalization builds GPU threads and atomics (CUDA target), or one serial loop (CPU, for tests)."""
    import tvm

    target = target or tvm.target.Target.current(allow_none=True)
    return target is not None and "gpu" in target.keys


def update(buf, offset, value, reduction: str, gpu: bool, dtype: str) -> None:
    """Emit (in an IRBuilder frame) `buf[offset] = reduction(buf[offset], value)` for `dtype` elements, atomically
    on the GPU."""
    from tvm import tirx
    from tvm.backend.cuda.op import cuda_atomic_add
    from tvm.script.ir_builder import tirx as T

    if reduction == "update":
        buf[offset] = value
    elif not gpu:
        current = buf[offset]
        combined = {"add": lambda: current + value, "mul": lambda: current * value,
                    "min": lambda: tirx.min(current, value), "max": lambda: tirx.max(current, value)}[reduction]
        buf[offset] = combined()
    elif reduction == "add" and dtype in ATOMIC_ADD_DTYPES:
        T.evaluate(cuda_atomic_add(tirx.address_of(buf[offset]), value))
    else:
        T.evaluate(tirx.call_extern(dtype, f"tpat_atomic_{reduction}", tirx.address_of(buf[offset]),
                                    value))


def _sm(target=None) -> int:
    import tvm

    target = target or tvm.target.Target.current(allow_none=True)
    arch = str(target.attrs.get("arch", "")) if target is not None else ""
    digits = "".join(ch for ch in arch if ch.isdigit())
    return int(digits) if digits else 0
