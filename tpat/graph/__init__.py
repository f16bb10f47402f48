"""The ONNX side, shared by planning and the stages: reading models (also over 2 GB), indexing them once, selecting
the nodes to convert, the dtype policy, external data, inputs valid for an op. Nothing here is a stage."""
