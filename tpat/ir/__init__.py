"""Plain data passed between stages: shape expressions, tensor signatures, launch plans.

Nothing here imports onnx or TVM: these types are what the stages agree on, and they serialise to JSON.
"""
