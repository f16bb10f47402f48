"""How a plugin node runs outside TensorRT: its kernels library on the GPU, or its node model in onnxruntime.

Both read the plugin's files from its `trt_plugin/` folder (`tpat.layout`): `meta/<p>.json` (the signature, with
the dims each reads from which input axis), `lib/lib<p>_kernels.so`, `meta/<p>.onnx`. The second is not a stand-in
for the kernels: it is the subgraph the plugin was made from, so a run with it checks everything the rewrite
did (which tensors feed which plugin input, casts, fused outputs) on a machine with no GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import TpatError
from ..ir.signature import Signature
from ..layout import PluginLayout

BACKENDS = ("gpu", "reference")


@dataclass(frozen=True)
class PluginFiles:
    name: str
    signature: Signature
    folder: Path

    @property
    def layout(self) -> PluginLayout:
        return PluginLayout(self.folder)


def plugin_files(plugin_dir: Path, name: str) -> PluginFiles:
    layout = PluginLayout(Path(plugin_dir))
    meta = layout.path(name, "meta")
    if not meta.is_file():
        raise TpatError(f"the model uses plugin {name!r}, but {str(meta)!r} does not exist",
                        hint="pass the trt_plugin/ folder `tpat apply` wrote for this model (--plugins DIR)")
    data = json.loads(meta.read_text())
    if not data.get("signature"):
        raise TpatError(f"plugin {name!r} has no signature in {str(meta)!r} (it was never lowered)",
                        hint="run `tpat apply` again until the plugin builds")
    return PluginFiles(name, Signature.from_json(data["signature"]), Path(plugin_dir))


def plugin_dims(files: PluginFiles, inputs: Sequence[np.ndarray]) -> list[int]:
    """The plugin's dynamic dims, read from its inputs where the signature says, checked against their range."""
    dims = []
    for d in files.signature.dims:
        value = int(inputs[d.input].shape[d.axis])
        if not d.min <= value <= d.max:
            raise TpatError(f"plugin {files.name}: dim {d.label!r} is {value}, outside its range [{d.min}, {d.max}]",
                            hint="run the model within the dims the plugins were built for, or rebuild wider ones")
        dims.append(value)
    return dims


class KernelsPlugin:
    """The plugin's kernels on the GPU (C ABI through ctypes): inputs copied in, outputs copied back."""

    def __init__(self, files: PluginFiles):
        from ..gpu.kernels_lib import KernelsLibrary

        lib = files.layout.path(files.name, "kernels_library")
        if not lib.is_file():
            raise TpatError(f"kernels library {str(lib)!r} is missing", hint="build the plugin first (tpat apply)")
        self.files = files
        self.lib = KernelsLibrary(lib, files.name)

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        from ..gpu.kernels_lib import STATUS
        from ..stages.validate import from_device_dtype, to_device_dtype

        sig = self.files.signature
        dims = plugin_dims(self.files, inputs)
        ins = [to_device_dtype(a, t.dtype.name) for a, t in zip(inputs, sig.inputs)]
        outs = [np.empty(t.concrete_shape(dims), dtype=np.uint16 if t.dtype.name == "bfloat16" else t.dtype.name)
                for t in sig.outputs]
        status = self.lib.run(ins, outs, dims)
        if status != 0:
            raise TpatError(f"plugin {self.files.name}: launch returned {STATUS.get(status, status)} at dims {dims}")
        return [from_device_dtype(o, t.dtype.name) for o, t in zip(outs, sig.outputs)]

    def close(self) -> None:
        self.lib.close()


class ReferencePlugin:
    """The plugin's node model (`meta/<p>.onnx`: the subgraph it was made from) in onnxruntime on the CPU."""

    def __init__(self, files: PluginFiles):
        import onnx
        import onnxruntime as ort

        path = files.layout.path(files.name, "subgraph")
        if not path.is_file():
            raise TpatError(f"node model {str(path)!r} of plugin {files.name} is missing")
        self.files = files
        from ..graph.ort_reference import session_options

        opts = session_options(onnx.load(str(path), load_external_data=False))
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        plugin_dims(self.files, inputs)  # the same range check the kernels make
        feeds = {i.name: a for i, a in zip(self.session.get_inputs(), inputs)}
        return self.session.run(None, feeds)

    def close(self) -> None:
        pass


def load_plugins(plugin_dir: Path, names: Sequence[str], backend: str) -> dict:
    """name -> a callable running that plugin (`backend`: gpu | reference)."""
    if backend not in BACKENDS:
        raise TpatError(f"unknown plugin backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")
    kind = KernelsPlugin if backend == "gpu" else ReferencePlugin
    return {name: kind(plugin_files(plugin_dir, name)) for name in dict.fromkeys(names)}
