"""The TensorRT side of tpat: locating the TensorRT headers a plugin is compiled against.

tpat never links libnvinfer: a plugin only needs the public headers, so this package finds them and reads their
version. The plugin C++ itself lives in ``templates/plugin.{h,cu}.j2``.
"""
