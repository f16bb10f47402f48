"""ONNX ops TVM's relax frontend lacks or gets wrong, converted by tpat into relax (issue 18).

Each module holds converters of one family, written like the frontend's own (`_impl_v<opset>(bb, inputs, attr,
params)` returning relax expressions); `registry.tpat_converters` puts them into the frontend's convert map for the
duration of one import. A converter that fixes a stock one delegates to it wherever the stock one is right, so
kernels the stock path generated before stay byte for byte the same.
"""
