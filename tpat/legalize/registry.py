"""tpat's ONNX converters, registered into TVM's relax ONNX frontend for the duration of an import.

The frontend looks its converters up through the module function `_get_convert_map()` at conversion time and
offers no other hook; `tpat_converters()` wraps that function while tpat imports a subgraph and restores it after,
so TVM itself is left as installed (another user of TVM in the same process sees the stock map).
"""

from __future__ import annotations

import contextlib
import functools


@functools.lru_cache(maxsize=1)
def converters() -> dict:
    """op type -> converter class."""
    from . import (activations, attention, constants, convolution, fixes, layout, linalg, losses, ml,
                   normalization, quantized, recurrent, reductions, scan, spectral, training, vision)

    found: dict = {}
    for module in (activations, attention, constants, convolution, fixes, layout, linalg, losses, ml,
                   normalization, quantized, recurrent, reductions, scan, spectral, training, vision):
        found.update(module.CONVERTERS)
    return found


@contextlib.contextmanager
def tpat_converters():
    from tvm.relax.frontend.onnx import onnx_frontend

    stock = onnx_frontend._get_convert_map

    def with_tpat():
        table = stock()
        table.update(converters())
        return table

    onnx_frontend._get_convert_map = with_tpat
    try:
        yield
    finally:
        onnx_frontend._get_convert_map = stock
