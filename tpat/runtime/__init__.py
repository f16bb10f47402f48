"""Whole rewritten models run without TensorRT: plugin nodes through their kernels library (or, on a machine
without a GPU, through the plugin's own node model in onnxruntime), everything else through onnxruntime in as
few sessions as the graph allows (`tpat.graph.partition`), compared with the original model.

Light on purpose: numpy, onnx, onnxruntime and the CUDA runtime; no TVM, pydantic or onnx-graphsurgeon, so it
runs on a GPU machine that has none of them (build the plugins elsewhere, carry the folder).
"""
