"""tpat's TIR pipeline: TVM's default, with tpat's passes over the device kernels in front of TVM's device passes.

Each pass is a module of its own (its docstring says what it rewrites and why): `unpredicated_loads`,
`padded_taps`, `division_free_bounds`, `half_precision_erf`, `constant_casts`. They run on the device module
after SplitHostDevice: the launch plan, read from the module there, is not affected.
"""

from __future__ import annotations

PIPELINE = "tpat"  # the TIR pipeline name tpat compiles with


def register_pipeline() -> str:
    """Register (once) and return the name of TVM's default TIR pipeline with tpat's device passes in front of the
    device finalisation passes; `tvm.compile(..., tir_pipeline=name)` takes a registered name only."""
    import tvm
    from tvm.tirx import compilation_pipeline as pipelines

    from .constant_casts import constant_casts
    from .division_free_bounds import division_free_bounds
    from .half_precision_erf import half_precision_erf
    from .padded_taps import padded_taps
    from .unpredicated_loads import unpredicated_loads

    if PIPELINE not in pipelines.PIPELINE_MAP:
        default = pipelines.get_tir_pipeline("default")  # noqa: F841 - imports the s_tir pipeline's registration

        def factory():
            pipeline, finalize_host, finalize_device = pipelines.get_tir_pipeline("default")

            def finalize():
                return tvm.transform.Sequential([unpredicated_loads(), padded_taps(), division_free_bounds(),
                                                 half_precision_erf(), constant_casts(), finalize_device()])

            return pipeline, finalize_host, finalize

        pipelines.register_tir_pipeline(PIPELINE, factory)
    return PIPELINE
