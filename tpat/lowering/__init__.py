"""Lowering with TVM: the relax frontend, the fused workloads, reading the launch plan out of the lowered IR,
tuning records. The lower and tune stages (`tpat.stages`) are built from these; nothing here is a stage."""
