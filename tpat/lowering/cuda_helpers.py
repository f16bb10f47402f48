"""CUDA helper functions that tpat's kernels call by name, put in front of TVM's kernels where they are used.

Some of tpat's lowerings need device code TIR cannot spell portably: a scatter with `max` on fp16 elements needs a
compare-and-swap loop on the element's 16 bits, one with `add` on int64 an `atomicAdd` on `unsigned long long`
(TVM prints int64 as `int64_t`, which is `long` on Linux and matches no CUDA overload). Those kernels call
`tpat_atomic_<op>(address, value)` (`tpat/schedules/atomics.py`), and the definitions (templates/_atomics.cuh.j2)
are inserted before the first kernel of any CUDA source that names them. The insertion runs as TVM's
`tvm_callback_cuda_postproc` hook, so the source TVM compiles and the source tpat keeps are the same text;
sources that name no helper are returned unchanged (byte for byte).
"""

from __future__ import annotations

import re

HELPERS = {"tpat_atomic_": "_atomics.cuh.j2"}  # a name prefix kernels call -> the template defining it
_FIRST_KERNEL = re.compile(r'^(?:extern "C" )?__global__', re.M)


def with_helpers(code: str) -> str:
    """`code` with the definitions of every helper it names, before its first kernel."""
    from ..render import render

    needed = [template for prefix, template in HELPERS.items() if prefix in code]
    first = _FIRST_KERNEL.search(code)
    if not needed or first is None:
        return code
    text = "".join(render(t) for t in needed)
    if text.strip() in code:  # already there (the hook ran on this source)
        return code
    return code[:first.start()] + text + "\n" + code[first.start():]


def install() -> None:
    """Make TVM's CUDA codegen pass every generated source through `with_helpers` (idempotent)."""
    import tvm_ffi

    tvm_ffi.register_global_func("tvm_callback_cuda_postproc", _postproc, override=True)


def _postproc(code, target=None):
    return with_helpers(str(code))
