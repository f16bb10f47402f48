"""The pipeline stages, one module each: extract, lower, codegen, build, validate, rewrite.

Each stage is a function of plain inputs (paths, `tpat.ir` objects, settings) to plain outputs, with no global
state, so the planner can hash its inputs and cache its outputs.
"""
