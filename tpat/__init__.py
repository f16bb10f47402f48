"""tpat: ONNX nodes -> TVM-generated CUDA -> validated TensorRT IPluginV3 plugins."""

from ._version import __version__
from .api import onnx2plugin
from .errors import TpatError
from .torch_export import from_torch

__all__ = ["from_torch", "onnx2plugin", "TpatError", "__version__"]
