"""Polygraphy network script for a tpat-converted model (``--model-type=trt-network-script``).

Polygraphy's ``--plugins`` only ``dlopen``s a library, which registers nothing from an IPluginV3 library that exposes
its creators through ``getCreators()``; this script loads them through the TensorRT plugin registry first. Set::

    TPAT_ONNX=<converted model> TPAT_PLUGINS=<lib1.so>[:<lib2.so>...] \
        polygraphy run <this file> --model-type=trt-network-script --trt [--trt-min-shapes ...] ...
"""

from __future__ import annotations

import os


def load_network():
    import tensorrt as trt
    from polygraphy.backend.trt import NetworkFromOnnxPath

    registry = trt.get_plugin_registry()
    for lib in filter(None, os.environ.get("TPAT_PLUGINS", "").split(os.pathsep)):
        if registry.load_library(lib) is None:
            raise RuntimeError(f"TensorRT could not load plugin library {lib!r}")
    return NetworkFromOnnxPath(os.environ["TPAT_ONNX"])()


if __name__ == "__main__":  # `python3 -m tpat.trt.polygraphy_network` prints this file's path for the command line
    print(os.path.abspath(__file__))
