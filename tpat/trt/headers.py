"""Find the TensorRT public headers a plugin is compiled against, and read their version.

A plugin needs only TensorRT's public headers (tpat never links libnvinfer). Without them tpat builds the kernels
library alone (``lib<plugin>_kernels.so``) and no TensorRT plugin, and says so (`missing_headers_warning`). The
headers are looked for where TensorRT users have them; the first folder with TensorRT 10+ headers wins:

1. ``$TENSORRT_INCLUDE_DIR``: explicit, wins; an error when it holds no usable headers.
2. the TensorRT the user points at (the one they run): ``include`` under ``$TENSORRT_ROOT``, ``$TENSORRT_DIR`` or
   ``$TRT_ROOT`` (the variables build scripts commonly read), or beside a folder on ``$LD_LIBRARY_PATH`` holding
   ``libnvinfer.so*`` (how the tar package is set up: ``<TensorRT>/lib`` next to ``<TensorRT>/include``).
3. the deb and rpm packages (``libnvinfer-headers-dev``): ``/usr/include/<multiarch triplet>``, ``/usr/include``.
4. a tar package unpacked at a usual place: ``/usr/local/TensorRT*/include`` (newest first),
   ``/usr/local/tensorrt/include``, ``/opt/tensorrt/include``.
5. the ``kernel-lens`` wheel: TensorRT 10.14 headers (Apache-2.0) on any machine, which is how the README's quick
   start gets them. Installed with ``--no-deps``: its requirements pull torch, which neither it (for its headers)
   nor tpat needs.

pip's TensorRT (``tensorrt``, ``tensorrt-cu12``/``-cu13`` and their ``-libs``/``-bindings`` wheels) ships libraries
and the Python module but no headers, so it is not searched. A folder of TensorRT older than 10 is passed over
(IPluginV3 and ``getCreators`` exist from 10.0 on) and named in the warning.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ..errors import TpatError

ENV_VAR = "TENSORRT_INCLUDE_DIR"
ROOT_VARS = ("TENSORRT_ROOT", "TENSORRT_DIR", "TRT_ROOT")
MIN_MAJOR = 10
INSTALL_LINE = "python3 -m pip install --no-deps kernel-lens==2.0.1"
HOW_TO_GET = f"`{INSTALL_LINE}` (TensorRT 10.14 headers), or set {ENV_VAR} to a TensorRT 10+ 'include' folder"
SYSTEM_ROOT = Path("/")  # the root of the system folders searched; tests point it at a folder of their own


@dataclass(frozen=True)
class TrtHeaders:
    include_dir: Path
    version: tuple[int, int, int]

    @property
    def version_str(self) -> str:
        return ".".join(map(str, self.version))


@dataclass(frozen=True)
class HeaderSearch:
    """What the search found, and the folders with TensorRT headers it could not use (each with the reason)."""

    found: TrtHeaders | None
    passed_over: tuple[str, ...] = ()


def read_version(include_dir: Path) -> tuple[int, int, int]:
    """(major, minor, patch) from NvInferVersion.h; refuses TensorRT older than 10."""
    header = Path(include_dir) / "NvInferVersion.h"
    try:
        text = header.read_text(errors="replace")
    except OSError as e:
        raise TpatError(f"cannot read TensorRT version header '{header}': {e.strerror}",
                        hint=f"point {ENV_VAR} at a TensorRT 'include' folder") from None
    # 10.8 writes `#define NV_TENSORRT_MAJOR 10`; 10.11+ writes `#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE`
    # with the number on another define, so follow one level of indirection.
    defines = dict(re.findall(r"^\s*#\s*define\s+(\w+)\s+(\w+)", text, flags=re.M))

    def number(name: str) -> int:
        value = defines.get(name, "")
        value = defines.get(value, value)
        if not value.isdigit():
            raise TpatError(f"'{header}' has no numeric {name}; is this a TensorRT include folder?")
        return int(value)

    version = tuple(number(f"NV_TENSORRT_{part}") for part in ("MAJOR", "MINOR", "PATCH"))
    if version[0] < MIN_MAJOR:
        raise TpatError(
            f"TensorRT headers in '{include_dir}' are version {'.'.join(map(str, version))}; tpat needs "
            f"TensorRT {MIN_MAJOR} or newer (IPluginV3)",
            hint=f"set {ENV_VAR} to the include folder of TensorRT {MIN_MAJOR}+",
        )
    return version  # type: ignore[return-value]


def _multiarch() -> str:
    """Debian's multiarch triplet (x86_64-linux-gnu, aarch64-linux-gnu), the deb packages' include subfolder."""
    return sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"


def kernel_lens_include() -> Path | None:
    # find_spec does not import the package: kernel_lens imports torch at import time, which we do not need.
    spec = importlib.util.find_spec("kernel_lens")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "include" / "tensorrt"
        if (candidate / "NvInferRuntime.h").is_file():
            return candidate
    return None


def candidate_dirs() -> list[Path]:
    """The include folders searched after ``$TENSORRT_INCLUDE_DIR``, in order; they need not exist."""
    dirs = [Path(os.environ[var]) / "include" for var in ROOT_VARS if os.environ.get(var)]
    for entry in filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)):
        if any(Path(entry).glob("libnvinfer.so*")):
            dirs.append(Path(entry).parent / "include")
    usr_include, usr_local = SYSTEM_ROOT / "usr" / "include", SYSTEM_ROOT / "usr" / "local"
    dirs += [usr_include / _multiarch(), usr_include]
    newest_first = sorted(usr_local.glob("TensorRT*/include"), reverse=True,
                          key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])
    dirs += [*newest_first, usr_local / "tensorrt" / "include", SYSTEM_ROOT / "opt" / "tensorrt" / "include"]
    kernel_lens = kernel_lens_include()
    return dirs + ([kernel_lens] if kernel_lens else [])


def search_headers() -> HeaderSearch:
    """The headers to build against (None when no searched folder has usable ones), and what was passed over."""
    env = os.environ.get(ENV_VAR)
    if env:
        include_dir = Path(env)
        if not (include_dir / "NvInferRuntime.h").is_file():
            raise TpatError(f"{ENV_VAR}='{env}' has no NvInferRuntime.h",
                            hint="point it at the 'include' folder of a TensorRT 10+ release")
        return HeaderSearch(TrtHeaders(include_dir, read_version(include_dir)))
    passed_over: list[str] = []
    for include_dir in candidate_dirs():
        if not (include_dir / "NvInferRuntime.h").is_file():
            continue
        try:
            return HeaderSearch(TrtHeaders(include_dir, read_version(include_dir)), tuple(passed_over))
        except TpatError as exc:
            passed_over.append(exc.message)
    return HeaderSearch(None, tuple(passed_over))


def find_headers() -> TrtHeaders | None:
    """The TensorRT headers to build against, or None when no searched folder has usable ones."""
    return search_headers().found


def missing_headers_warning(search: HeaderSearch) -> str:
    """What a user reads when no plugin can be built: what is built instead, why, and how to get headers."""
    places = ", ".join([f"${v}" for v in (ENV_VAR, *ROOT_VARS)] + ["LD_LIBRARY_PATH", "/usr/include",
                                                                   "/usr/local/TensorRT*", "/opt/tensorrt"])
    passed = "".join(f"; passed over {reason}" for reason in search.passed_over)
    return (f"no TensorRT headers found (looked in {places} and the kernel-lens wheel{passed}): only the kernels "
            "libraries (lib<plugin>_kernels.so) are built, no TensorRT plugin (<plugin>.so), which is compiled "
            f"against those headers. Get them with {HOW_TO_GET}")
