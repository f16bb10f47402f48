"""The C++ TensorRT-RTX checker (`checker/rtx_check.cpp`), compiled once per source and headers and cached, and
the folder of library names the RTX parser looks libraries up by.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from ..errors import TpatError
from .headers import TrtHeaders
from .rtx_locate import RtxLibs

CHECKER_DIR = Path(__file__).resolve().parent / "checker"
CHECKER_CPP = CHECKER_DIR / "rtx_check.cpp"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    from ..cache.location import default_cache_dir

    return (Path(os.path.expanduser(str(cache_dir))) if cache_dir else default_cache_dir()) / "rtx-check"


def build_checker(headers: TrtHeaders, cache_dir: str | Path | None = None) -> Path:
    """Compile rtx_check.cpp once per (source, headers); later calls return the cached binary."""
    from ..stages.build import find_nvcc, nvcc_version

    nvcc = find_nvcc()
    source = CHECKER_CPP.read_bytes()
    key = hashlib.sha256(source + f"|{headers.include_dir.resolve()}|{headers.version}|{nvcc_version()}".encode())
    out = cache_root(cache_dir) / f"rtx_check-{key.hexdigest()[:16]}"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # -cudart none: the CUDA runtime is dlopen'ed only by --run; -isystem keeps TensorRT's own warnings out.
    command = [nvcc, "-std=c++17", "-O2", "-Xcompiler", "-Wall,-Wextra", "-isystem", str(headers.include_dir),
               "-cudart", "none", "-o", str(tmp), str(CHECKER_CPP), "-ldl"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise TpatError(f"compiling the TensorRT-RTX checker failed (headers {headers.include_dir}, "
                        f"TensorRT {headers.version_str}):\n{(proc.stderr or proc.stdout)[-4000:]}",
                        hint="the checker needs TensorRT 11.x headers and nvcc")
    os.replace(tmp, out)
    return out


def link_dir(libs: RtxLibs, cache_dir: str | Path | None = None) -> Path:
    """A folder with the names the RTX libraries are looked up by (libtensorrt_rtx.so, .so.1, ...) -> the real files."""
    key = hashlib.sha256(f"{libs.rtx_lib}|{libs.parser_lib}".encode()).hexdigest()[:12]
    folder = cache_root(cache_dir) / f"libs-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for real, base in ((libs.rtx_lib, "libtensorrt_rtx"), (libs.parser_lib, "libtensorrt_onnxparser_rtx")):
        for name in (f"{base}.so", f"{base}.so.1"):
            link = folder / name
            if link.is_symlink() and Path(os.readlink(link)) == real:
                continue
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(real)
            os.replace(tmp, link)
    return folder
