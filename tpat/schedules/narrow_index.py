"""32-bit index arithmetic for kernels whose tensors are provably small enough.

The relax ONNX frontend types every shape as int64, and TVM keeps int64 indices wherever a cast from float feeds
an index (Resize's coordinate transform): each output element of the (32,32,44,50)->(176,200) Resize then paid
for 64-bit divisions and modulos, which a GPU emulates in dozens of instructions. When every tensor a kernel
touches has fewer than 2**31 elements at the largest dims the plugin accepts, TVM's ForceNarrowIndexToInt32 is
exact; it also narrows integer *data* buffers, so kernels with 64-bit integer tensors (indices) keep int64.

Those kernels are left to TVM's NarrowDataType, which narrows an index only where its bounds prove 32 bits enough.
At symbolic shapes it proved nothing: a thread's index, `blockIdx.x * 256 + threadIdx.x`, is bounded by the grid,
and the grid by the dims, which the analyzer knows nothing about. The OneHot (batch, 26) -> (batch, 26, 1000) fp32
took 90.6 us with 64-bit divisions per element, its static twin 51.0 (H200). So each such kernel's thread extents
are written `min(extent, extent at the largest dims)` (`bounded_threads`): the same value for every shape the plugin
accepts (its launcher rejects larger dims), and a bound the analyzer reads, so the indices derived from the
thread's position narrow while the 64-bit data, whose values no bound covers, stays 64-bit.
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
        if not isinstance(func, tirx.PrimFunc):
            continue
        if _eligible(func, dim_max):
            one = tvm.IRModule({gv: func})
            narrowed[gv] = tirx.transform.ForceNarrowIndexToInt32()(one)[gv]
        else:
            narrowed[gv] = bounded_threads(func, dim_max)
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


def bounded_threads(func, dim_max: dict[str, int]):
    """`func` with each symbolic thread extent (a loop bound to blockIdx/threadIdx) written `min(extent, its value
    at the largest dims)`; extents that do not grow with the dims stay as they are."""
    import tvm_ffi
    from tvm import tirx
    from tvm.ir.prim.expr import IntImm

    def bounded(loop):
        if loop.kind != tirx.ForKind.THREAD_BINDING or isinstance(loop.extent, IntImm):
            return loop
        largest = max_product([loop.extent], dim_max)
        if largest is None or largest < 1:
            return loop
        return tirx.For(loop.loop_var, loop.min, tirx.min(loop.extent, tirx.const(largest, loop.extent.ty)),
                        loop.kind, loop.body, loop.thread_binding, loop.annotations)

    return func.with_body(tvm_ffi.structural_map(func.body, (tirx.For, bounded)))
