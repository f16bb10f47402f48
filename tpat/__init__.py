"""tpat: ONNX nodes -> TVM-generated CUDA -> validated TensorRT IPluginV3 plugins."""

from ._version import __version__
from .api import from_torch, onnx2plugin
from .errors import TpatError

__all__ = ["from_torch", "onnx2plugin", "TpatError", "__version__"]
