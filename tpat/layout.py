"""Where a plugin's files live: their names (the same in cache entries and outputs) and the `trt_plugin/` folder.

    trt_plugin/src/<p>.cu|.h, <p>_kernels.cu|.h     the IPluginV3 sources; the kernels + C ABI sources
    trt_plugin/lib/<p>.so, lib<p>_kernels.so          what TensorRT loads; what the validator and benchmarks load
    trt_plugin/meta/<p>.onnx|.ref.onnx|.json          the node as a model (at the model's precision); metadata
    trt_plugin/tuning/<p>/                            tuning records, so any machine rebuilds the tuned sources

TPAT's layout (`src/`, `lib/`) plus tpat's own folders. Every module that reads or writes these files asks this
one; none spells a path itself. No plugin name ends like another's file (`tpat.names.RESERVED_SUFFIX`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "tpat.lock.yaml"  # in the output folder: what the outputs were made from (byte-reproducible)
RUN_RECORD_NAME = "tpat.run.yaml"  # beside it: when and how long (changes every run)
SOURCES = ("kernels_header", "kernels_source", "plugin_header", "plugin_source")


def file_names(plugin: str) -> dict[str, str]:
    """Every file of plugin `plugin`, by role."""
    return {"kernels_header": f"{plugin}_kernels.h", "kernels_source": f"{plugin}_kernels.cu",
            "plugin_header": f"{plugin}.h", "plugin_source": f"{plugin}.cu",
            "kernels_library": f"lib{plugin}_kernels.so", "plugin_library": f"{plugin}.so",
            "subgraph": f"{plugin}.onnx", "reference": f"{plugin}.ref.onnx", "meta": f"{plugin}.json"}


_FOLDER = {"kernels_header": "src", "kernels_source": "src", "plugin_header": "src", "plugin_source": "src",
           "kernels_library": "lib", "plugin_library": "lib", "subgraph": "meta", "reference": "meta", "meta": "meta"}


@dataclass(frozen=True)
class PluginLayout:
    """A `trt_plugin/` folder."""

    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def meta(self) -> Path:
        return self.root / "meta"

    def path(self, plugin: str, role: str) -> Path:
        return self.root / _FOLDER[role] / file_names(plugin)[role]

    def files(self, plugin: str) -> dict[str, Path]:
        return {role: self.path(plugin, role) for role in _FOLDER}

    def tuning(self, plugin: str) -> Path:
        return self.root / "tuning" / plugin

    def folder_for(self, file_name: str) -> Path:
        """Where a file from a cache entry goes: sources to src/, libraries to lib/."""
        return self.lib if file_name.endswith(".so") else self.src

    def plugins(self) -> list[str]:
        """The plugins the folder holds, by their metadata files."""
        return sorted(p.stem for p in self.meta.glob("*.json"))
