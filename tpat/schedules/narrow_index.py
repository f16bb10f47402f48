"""32-bit index arithmetic for kernels whose tensors are provably small enough.

The relax ONNX frontend types every shape as int64, and TVM keeps int64 indices wherever a cast from float feeds
an index (Resize's coordinate transform): each output element of the (32,32,44,50)->(176,200) Resize then paid
for 64-bit divisions and modulos, which a GPU emulates in dozens of instructions. When every tensor a kernel
touches has fewer than 2**31 elements at the largest dims the plugin accepts, TVM's ForceNarrowIndexToInt32 is
exact; it also narrows integer *data* buffers, so kernels with 64-bit integer tensors (indices) keep int64.
"""

from __future__ import annotations

from .analysis import max_product

INT32_LIMIT = 2**31 - 1
_WIDE_INTS = ("int64", "uint64")


def narrow_indices(mod, dim_max: dict[str, int]):
    """`mod` with each eligible PrimFunc narrowed; `dim_max`: the largest value of each symbolic dim."""
    import tvm
    from tvm import tirx

    narrowed = {}
    for gv, func in mod.functions.items():
        if isinstance(func, tirx.PrimFunc) and _eligible(func, dim_max):
            one = tvm.IRModule({gv: func})
            narrowed[gv] = tirx.transform.ForceNarrowIndexToInt32()(one)[gv]
    for gv, func in narrowed.items():
        mod[gv] = func
    return mod


def _eligible(func, dim_max: dict[str, int]) -> bool:
    """Every tensor parameter fits int32 indexing at the largest dims and none holds 64-bit integers."""
    tensors = 0
    from tvm.tirx.buffer import BufferType

    for param in func.params:
        if not isinstance(param.ty, BufferType):  # a scalar: one of the plugin's dims (narrowing them is exact)
            if param.name not in dim_max and str(param.ty) in _WIDE_INTS:
                return False
            continue
        shape, dtype = param.shape, str(param.dtype)
        tensors += 1
        if dtype in _WIDE_INTS:
            return False
        size = max_product(shape, dim_max)
        if size is None or size > INT32_LIMIT:
            return False
    return tensors > 0
