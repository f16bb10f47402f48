"""tpat: ONNX nodes -> TVM-generated CUDA -> validated TensorRT IPluginV3 plugins."""

__version__ = "0.1.0"

from .api import onnx2plugin  # noqa: E402
from .errors import TpatError  # noqa: E402

__all__ = ["onnx2plugin", "TpatError", "__version__"]
