"""A loaded `lib<plugin>_kernels.so` and a call of its C ABI on numpy arrays."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import TpatError
from .cudart import runtime

STATUS = {0: "ok", 1: "dims out of range", 2: "not initialised", 3: "CUDA error", 4: "bad arguments"}
ERR_DIMS = 1
ERR_CUDA = 3


class KernelsABI:
    """The six C ABI functions of one plugin's kernels library, bound with ctypes, and one initialised state.

    Needs only the CUDA runtime the library links against (found by the dynamic loader); the validator, the
    benchmarks and tests all drive kernels through this one binding.
    """

    def __init__(self, path: str | Path, plugin: str):
        self.path = Path(path)
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise TpatError(f"cannot load kernels library {str(self.path)!r}: {exc}") from exc
        p = f"tpat_{plugin}_"
        self._num_dims = getattr(self.lib, p + "num_dims")
        self._workspace = getattr(self.lib, p + "workspace")
        self._workspace.restype = ctypes.c_size_t
        self._workspace.argtypes = [ctypes.POINTER(ctypes.c_int64)]
        self._init = getattr(self.lib, p + "init")
        self._init.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        self._launch = getattr(self.lib, p + "launch")
        self._launch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
                                 ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p]
        self._launch.restype = ctypes.c_int
        self._destroy = getattr(self.lib, p + "destroy")
        self._destroy.argtypes = [ctypes.c_void_p]
        self.state = ctypes.c_void_p()
        status = self._init(ctypes.byref(self.state))
        if status != 0:
            raise TpatError(f"{self.path.name}: init failed: {STATUS.get(status, status)}")

    def close(self) -> None:
        if self.state:
            self._destroy(self.state)
            self.state = ctypes.c_void_p()

    def num_dims(self) -> int:
        return int(self._num_dims())

    def workspace_bytes(self, dims: Sequence[int]) -> int:
        return int(self._workspace(_dims(dims)))

    def launch(self, inputs: Sequence[int], outputs: Sequence[int], workspace: int | None, dims: Sequence[int],
               stream: int | None) -> int:
        """Device pointers in, status out; enqueues on `stream` and returns without synchronising."""
        return int(self._launch(self.state, _ptrs(inputs), _ptrs(outputs), workspace, _dims(dims), stream))

    def launch_status(self, dims: Sequence[int]) -> int:
        """Launch with null buffers: only the dims check runs (used to prove out-of-range dims are refused)."""
        return self.launch([], [], None, dims, None)


class KernelsLibrary(KernelsABI):
    """`KernelsABI` plus copying numpy arrays in and out through the CUDA runtime (for validation)."""

    def __init__(self, path: str | Path, plugin: str):
        self.cuda = runtime()
        super().__init__(path, plugin)

    def run(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], dims: Sequence[int]) -> int:
        """Copy inputs in, launch on a fresh stream, copy outputs back into `outputs` (arrays of the right shape)."""
        cuda = self.cuda
        allocated: list[int] = []
        stream = cuda.stream()
        try:
            in_ptrs = []
            for a in inputs:
                ptr = cuda.malloc(a.nbytes)
                allocated.append(ptr)
                cuda.h2d(ptr, np.ascontiguousarray(a))
                in_ptrs.append(ptr)
            out_ptrs = []
            for a in outputs:
                ptr = cuda.malloc(a.nbytes)
                allocated.append(ptr)
                cuda.memset(ptr, 0xFF, a.nbytes)  # poison: an element the kernels never write shows up as wrong
                out_ptrs.append(ptr)
            ws_bytes = self.workspace_bytes(dims)
            ws = cuda.malloc(ws_bytes) if ws_bytes else None
            if ws:
                allocated.append(ws)
                cuda.memset(ws, 0xFF, ws_bytes)
            status = self.launch(in_ptrs, out_ptrs, ws, dims, stream)
            cuda.sync(stream)
            for a, ptr in zip(outputs, out_ptrs):
                cuda.d2h(a, ptr)
            return status
        finally:
            for ptr in allocated:
                cuda.free(ptr)
            cuda.destroy_stream(stream)


def _dims(dims: Sequence[int]):
    return (ctypes.c_int64 * max(len(dims), 1))(*dims)


def _ptrs(ptrs: Sequence[int]):
    return (ctypes.c_void_p * max(len(ptrs), 1))(*ptrs)
