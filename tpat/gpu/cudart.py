"""The handful of CUDA runtime calls validation needs, through ctypes on the libcudart the kernels link."""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import subprocess
from typing import Mapping

from ..errors import TpatError

H2D, D2H = 1, 2
_SONAMES = ("libcudart.so.13", "libcudart.so.12", "libcudart.so")


class CudaError(TpatError):
    pass


def gpu_available() -> bool:
    """True when an NVIDIA GPU and driver answer (used to skip GPU tests cleanly)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs CUDA programs started from here may use, each as the value of CUDA_VISIBLE_DEVICES that selects it
    alone: that variable's entries where it is set (CUDA stops at the first invalid one: "" or -1 hides every
    GPU), else the indexes `nvidia-smi -L` lists. Used to give a local Dask cluster one GPU worker per GPU."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        found = []
        for token in (t.strip() for t in environ["CUDA_VISIBLE_DEVICES"].split(",")):
            if not token or token.startswith("-"):
                break
            found.append(token)
        return found
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return re.findall(r"^GPU (\d+):", proc.stdout, re.M) if proc.returncode == 0 else []


@functools.lru_cache(maxsize=1)
def device_fingerprint() -> str | None:
    """GPU name, compute capability and driver of GPU 0 (part of validation cache keys), or None without a GPU."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        proc = subprocess.run([smi, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader", "-i", "0"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else ""
    return " / ".join(part.strip() for part in line.split(",")) or None


@functools.lru_cache(maxsize=1)
def runtime() -> "CudaRuntime":
    for name in _SONAMES:
        try:
            return CudaRuntime(ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL))
        except OSError:
            continue
    raise CudaError("cannot load the CUDA runtime (libcudart)", hint="add the CUDA lib64 folder to LD_LIBRARY_PATH")


class CudaRuntime:
    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        lib.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        lib.cudaFree.argtypes = [ctypes.c_void_p]
        lib.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.cudaMemset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        lib.cudaStreamCreate.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        lib.cudaStreamDestroy.argtypes = [ctypes.c_void_p]

    def check(self, status: int, what: str) -> None:
        if status != 0:
            msg = self.lib.cudaGetErrorString(status).decode()
            raise CudaError(f"CUDA error in {what}: {msg} ({status})")

    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(ctypes.byref(ptr), max(int(nbytes), 1)), "cudaMalloc")
        return ptr.value

    def free(self, ptr: int) -> None:
        if ptr:
            self.lib.cudaFree(ctypes.c_void_p(ptr))

    def h2d(self, dst: int, array) -> None:
        self.check(self.lib.cudaMemcpy(dst, array.ctypes.data, array.nbytes, H2D), "cudaMemcpy H2D")

    def d2h(self, array, src: int) -> None:
        self.check(self.lib.cudaMemcpy(array.ctypes.data, src, array.nbytes, D2H), "cudaMemcpy D2H")

    def memset(self, ptr: int, value: int, nbytes: int) -> None:
        self.check(self.lib.cudaMemset(ptr, value, max(int(nbytes), 1)), "cudaMemset")

    def stream(self) -> int:
        s = ctypes.c_void_p()
        self.check(self.lib.cudaStreamCreate(ctypes.byref(s)), "cudaStreamCreate")
        return s.value

    def sync(self, stream: int) -> None:
        self.check(self.lib.cudaStreamSynchronize(stream), "cudaStreamSynchronize")

    def destroy_stream(self, stream: int) -> None:
        self.lib.cudaStreamDestroy(stream)
