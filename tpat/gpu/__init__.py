"""Running generated kernels on a GPU through their C ABI, with no TensorRT and no TVM.

Only the CUDA runtime that the kernels library itself links (libcudart) is used, through ctypes, so validation
runs wherever the plugin can run: no torch, cupy or cuda-python needed.
"""
