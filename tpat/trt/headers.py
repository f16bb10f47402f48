"""Find the TensorRT public headers a plugin is compiled against, and read their version.

Order: the ``TENSORRT_INCLUDE_DIR`` environment variable (explicit wins), else the headers shipped by the
``kernel_lens`` wheel (``pip install --no-deps kernel-lens==2.0.1`` gives TRT 10.14 headers on any machine, which is
how CI gets them), else None. TensorRT < 10 is refused: IPluginV3 and ``getCreators`` only exist from 10.0.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import TpatError

ENV_VAR = "TENSORRT_INCLUDE_DIR"
MIN_MAJOR = 10


@dataclass(frozen=True)
class TrtHeaders:
    include_dir: Path
    version: tuple[int, int, int]

    @property
    def version_str(self) -> str:
        return ".".join(map(str, self.version))


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


def _kernel_lens_include() -> Path | None:
    # find_spec does not import the package: kernel_lens imports torch at import time, which we do not need.
    spec = importlib.util.find_spec("kernel_lens")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "include" / "tensorrt"
        if (candidate / "NvInferRuntime.h").is_file():
            return candidate
    return None


def find_headers() -> TrtHeaders | None:
    """The TensorRT headers to build against, or None when neither source has them."""
    env = os.environ.get(ENV_VAR)
    if env:
        include_dir = Path(env)
        if not (include_dir / "NvInferRuntime.h").is_file():
            raise TpatError(f"{ENV_VAR}='{env}' has no NvInferRuntime.h",
                            hint="point it at the 'include' folder of a TensorRT 10+ release")
    else:
        include_dir = _kernel_lens_include()
        if include_dir is None:
            return None
    return TrtHeaders(include_dir, read_version(include_dir))
