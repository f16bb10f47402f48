"""The pipeline stages, one module each: extract and rewrite (run by the planner and per model), and the cached
tasks of a plugin's chain -- tune, lower, codegen, build, validate -- each with one entry point,
`run(plugin, workdir, upstream) -> metadata`, which writes its outputs into `workdir` (the cache entry being made).

A stage reads only its plugin, its upstream entries and its own code, so the planner can hash its inputs and the
executor can cache and order it without knowing what it does. Helpers the stages share live beside them:
`tpat.graph` (the ONNX side), `tpat.lowering` (TVM's side), `tpat.schedules` (tpat's schedule rules).
"""
