"""The Python API. `onnx2plugin` keeps TPAT's signature so existing scripts run unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .errors import TpatError


def onnx2plugin(
    input_model_path: str | Path,
    output_model_path: str | Path,
    node_names: Sequence[str] | None = None,
    node_types: Sequence[str] | None = None,
    plugin_name_dict: Mapping[str, str] | None = None,
    dynamic_bs: bool = False,
    min_bs: int = 1,
    max_bs: int = 256,
    opt_bs: int = 128,
    *,
    arch: Sequence[str] = ("sm_90",),
    plugin_dir: str | Path | None = None,
    validate: str = "auto",
):
    """Turn the selected nodes into TensorRT plugins and write the model that uses them.

    Nodes are chosen by `node_names`, `node_types` and/or `plugin_name_dict` (``{node: plugin}`` or
    ``{plugin: node}``; the default plugin name is ``tpat_<node_name>``). With `dynamic_bs`, axis 0 of the inputs
    is a dynamic batch in ``[min_bs, max_bs]`` served by one kernel (TPAT padded to three static batches).
    Sources go to ``<plugin_dir>/src/<plugin>.cu|.h`` and libraries to ``<plugin_dir>/lib/``; `plugin_dir`
    defaults to ``trt_plugin/`` beside the output model. Returns a `ConvertResult`.

    Example::

        import tpat
        tpat.onnx2plugin("model.onnx", "model.tpat.onnx", node_types=["OneHot"], dynamic_bs=True)
    """
    from .engine import Settings, convert
    from .stages.extract import DimRange
    from .trt.headers import find_headers

    dynamic = {}
    if dynamic_bs:
        if not 1 <= min_bs <= opt_bs <= max_bs:
            raise TpatError(f"batch range must satisfy 1 <= min <= opt <= max, got {min_bs}, {opt_bs}, {max_bs}",
                            hint="e.g. min_bs=1, opt_bs=128, max_bs=256")
        dynamic["batch"] = DimRange(min_bs, opt_bs, max_bs)
    headers = find_headers()
    settings = Settings(dynamic=dynamic, arch=tuple(arch), validate=validate,
                        trt_include=headers.include_dir if headers else None)
    return convert(input_model_path, output_model_path, node_names, node_types, plugin_name_dict, settings,
                   plugin_dir)
