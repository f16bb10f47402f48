"""Conformance: ONNX's own node test cases through tpat's pipeline, counted per op type (`tpat conformance`).

TPAT claimed operator support; this package measures it. `cases` generates the cases of the installed onnx
package's node test suite (fixed numpy seed, into a cache folder: nothing fetched, nothing committed), `runner`
takes each through extract -> lower -> codegen -> build with the normal planner and executor (CPU) and writes a
bundle, `gpu_check` runs the bundled kernels libraries on the cases' inputs against their expected outputs (on a GPU
machine that has no TVM), `report` counts per op type and renders docs/operators.md. `tpat_tests`, `tpat_env` and
`tpat_upstream` do the same for every onnx2plugin call of Tencent/TPAT's own tests/test_tpat.py (docs/tpat-tests.md),
with `plugin_io` computing a node's reference inside a larger model.
"""
