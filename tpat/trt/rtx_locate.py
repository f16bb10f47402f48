"""Where TensorRT for RTX is: its builder and ONNX parser libraries, its Python bindings, TensorRT 11 headers.

First found wins: ``$TENSORRT_RTX_LIB_DIR`` (a folder with libtensorrt_rtx.so* and libtensorrt_onnxparser_rtx.so*), the
``tensorrt-rtx-cu13-libs`` wheel (module ``tensorrt_rtx_libs``), the ``onnxruntime-ep-nv-tensorrt-rtx-cu13`` wheel.
The bindings are ``tensorrt-rtx-cu13-bindings`` (same version as the libs wheel). TensorRT 11.x headers (the C++
checker needs them: TensorRT-RTX has the TensorRT 11 ABI): ``$TENSORRT_INCLUDE_DIR`` when it is 11+, ``.trt/v11*/include``
in the current folder or the source checkout, then the folders `tpat.trt.headers` searches.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import TpatError
from .headers import ENV_VAR as HEADERS_ENV, TrtHeaders, read_version

LIB_DIR_ENV = "TENSORRT_RTX_LIB_DIR"
LIBS_WHEEL = ("tensorrt_rtx_libs", "tensorrt-rtx-cu13-libs==1.7.1.116")
EP_WHEEL = ("onnxruntime_ep_nv_tensorrt_rtx", "onnxruntime-ep-nv-tensorrt-rtx-cu13==0.5.0")
BINDINGS = ("tensorrt_rtx_bindings", "tensorrt-rtx-cu13-bindings==1.7.1.116")
INSTALL_HINT = (f"pip install {LIBS_WHEEL[1]} {BINDINGS[1]}  (about 96 MB; or pip install -e '.[trt-rtx]')")


@dataclass(frozen=True)
class RtxLibs:
    source: str  # where they were found: the env var or the wheel's module
    rtx_lib: Path
    parser_lib: Path


def _pick(folder: Path, base: str) -> Path | None:
    """The real file of `base`.so* in `folder`, longest version suffix first (libx.so.1.7.1 before libx.so.1)."""
    candidates = [p for p in folder.glob(f"{base}.so*") if p.is_file()]
    candidates.sort(key=lambda p: (p.is_symlink(), -len(p.name)))
    return candidates[0].resolve() if candidates else None


def _module_dir(module: str) -> Path | None:
    # find_spec does not import: importing the EP package would preload 230 MB of TensorRT into this process.
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_rtx_libs(prefer: str | None = None) -> RtxLibs | None:
    """The TensorRT-RTX builder + ONNX parser libraries, or None. `prefer` = a module name to try first."""
    places: list[tuple[str, Path | None]] = []
    env = os.environ.get(LIB_DIR_ENV)
    if env:
        places.append((LIB_DIR_ENV, Path(env)))
    modules = [LIBS_WHEEL[0], EP_WHEEL[0]]
    if prefer in modules:
        modules.remove(prefer)
        modules.insert(0, prefer)
    places += [(m, _module_dir(m)) for m in modules]
    for source, folder in places:
        if folder is None or not folder.is_dir():
            continue
        rtx, parser = _pick(folder, "libtensorrt_rtx"), _pick(folder, "libtensorrt_onnxparser_rtx")
        if rtx and parser:
            return RtxLibs(source, rtx, parser)
    return None


def bindings_available() -> bool:
    return _module_dir(BINDINGS[0]) is not None and _module_dir(LIBS_WHEEL[0]) is not None


def find_trt11_headers() -> TrtHeaders | None:
    """TensorRT 11.x public headers for the C++ checker, or None (10.x headers do not fit TRT-RTX's ABI)."""
    candidates: list[Path] = []
    env = os.environ.get(HEADERS_ENV)
    if env:
        candidates.append(Path(env))
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidates += sorted((root / ".trt").glob("v11*/include"), reverse=True)
    from .headers import candidate_dirs

    candidates += candidate_dirs()
    for inc in candidates:
        if not (inc / "NvInferRuntime.h").is_file() or not (inc / "NvOnnxParser.h").is_file():
            continue
        try:
            version = read_version(inc)
        except TpatError:
            continue
        if version[0] >= 11:
            return TrtHeaders(inc, version)
    return None


def choose_backend(backend: str = "auto") -> str:
    """'cpp' (TensorRT 11 headers + RTX libraries) or 'python' (the RTX bindings); TpatError says what is missing."""
    if backend not in ("auto", "cpp", "python"):
        raise TpatError(f"unknown checker backend {backend!r}", hint="use auto, cpp or python")
    libs, headers, bindings = find_rtx_libs(), None, bindings_available()
    if backend in ("auto", "cpp") and libs is not None:
        headers = find_trt11_headers()
        if headers is not None:
            return "cpp"
    if backend in ("auto", "python") and bindings:
        return "python"
    if backend == "cpp":
        missing = [] if libs else ["the TensorRT-RTX libraries"]
        missing += [] if headers or not libs else ["TensorRT 11.x headers"]
        raise TpatError(f"the C++ TensorRT-RTX checker needs {' and '.join(missing) or 'TensorRT 11.x headers'}",
                        hint=f"{INSTALL_HINT}; headers: set {HEADERS_ENV} to the 'include' folder of TensorRT 11.x "
                             "(OSS TensorRT tag v11.1: git archive v11.1 include), or extract it to .trt/v11.1/include")
    raise TpatError(
        "TensorRT-RTX is not installed: `tpat check-trt` needs TensorRT for RTX (it builds engines without a GPU)",
        hint=f"{INSTALL_HINT}; or the {EP_WHEEL[1]} wheel plus TensorRT 11.x headers in {HEADERS_ENV} "
             "for the C++ checker")
