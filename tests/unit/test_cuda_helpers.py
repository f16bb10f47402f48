"""tpat's CUDA helpers (templates/_atomics.cuh.j2) go in front of the kernels that call them, and nowhere else."""

from __future__ import annotations

from tpat.lowering.cuda_helpers import with_helpers

SOURCE = '''#include <cuda_fp16.h>
extern "C" __global__ void __launch_bounds__(256) k(float* __restrict__ out_ptr, float* __restrict__ in_ptr);
extern "C" __global__ void __launch_bounds__(256) k(float* __restrict__ out_ptr, float* __restrict__ in_ptr) {
  %s
}
'''


def test_a_source_calling_no_helper_is_unchanged():
    code = SOURCE % "out_ptr[0] = in_ptr[0];"
    assert with_helpers(code) == code


def test_helpers_are_defined_once_before_the_first_kernel():
    code = SOURCE % "tpat_atomic_max((&(out_ptr[0])), in_ptr[0]);"
    once = with_helpers(code)
    assert once.count("tpat_atomic_cas(T* address") == 1
    assert once.index("tpat_atomic_cas(T* address") < once.index('extern "C" __global__')
    assert once.startswith("#include <cuda_fp16.h>\n"), "TVM's preamble stays first"
    assert with_helpers(once) == once, "the hook may see a source twice"
