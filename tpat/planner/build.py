"""Spec -> plan: load each model, select and extract its targets, merge identical subgraphs, compute task keys.

Planning reads models and runs ONNX shape inference and extraction (fast), never TVM: `tpat plan` must answer in
about a second. Two nodes whose extracted subgraphs are byte-identical under the same settings (op, attributes,
dtypes, static shapes, constant bytes, arch) become one plugin, reported as reuse -- across models too. A user's
explicit plugin name is respected: nodes only merge when they would also get the same name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..arch import DEFAULT_ARCH, sort_archs
from ..cache.keys import digest, task_key, tpat_code_digest, tvm_version
from ..errors import TpatError
from ..render import templates_digest
from .task_graph import ModelTasks, NodeRef, TaskGraph, PluginTasks, TaskSpec
from .outputs_guard import check_outputs, model_problem

log = logging.getLogger(__name__)
SEED = 0


def versions(trt_version: str | None) -> dict[str, str]:
    from ..stages.build import nvcc_version

    return {"tpat": tpat_code_digest(), "tvm": tvm_version(), "nvcc": nvcc_version(),
            "templates": templates_digest()[:16], "tensorrt_headers": trt_version or "none"}


def build_task_graph(resolved, plugin_dir: Path, trt_version: str | None = None, gpu: str | None = None,
               jobs: int | None = None, check_trt: bool = False) -> TaskGraph:
    """`resolved` is a `tpat.spec.ResolvedSpec` (or any object with the same fields)."""
    plan = TaskGraph(resolved.file, resolved.output_dir, plugin_dir, resolved.cache_dir,
                jobs or resolved.executor.jobs, versions(trt_version), gpu=gpu)
    by_content: dict[str, str] = {}
    for i, m in enumerate(resolved.models):
        mp = ModelTasks(i, m.source, m.output, check_trt=getattr(m, "check_trt", False) or check_trt,
                        validate=bool(m.validate and gpu),
                        dynamic={k: (r.min, r.opt, r.max) for k, r in m.dynamic.items()})
        plan.models.append(mp)
        problem = model_problem(mp)  # before any work: the output is the input, a folder, unwritable
        if problem:
            mp.error, mp.exception = problem, TpatError(problem)
            continue
        try:
            _plan_model(plan, mp, m, by_content)
        except TpatError as exc:
            mp.error, mp.exception = str(exc), exc
    for p in plan.plugins.values():
        _task_keys(plan, p)
    check_outputs(plan, resolved.file)
    return plan


def _plan_model(plan: TaskGraph, mp: ModelTasks, m, by_content: dict[str, str]) -> None:
    from ..stages.extract import EMBED_LIMIT_BYTES, extract, prepare_model
    from ..graph.pattern_constants import varying_constants
    from ..graph.model_index import ModelIndex
    from ..graph.model_io import load_model, model_digest
    from ..graph.selection import select_targets

    mp.sha256 = model_digest(m.source) if Path(m.source).is_file() else ""
    dynamic = dict(m.dynamic)
    original = load_model(m.source)  # external data stays on disk: only constants baked into plugins are read
    folder = Path(m.source).parent
    index = ModelIndex(prepare_model(original, dynamic, folder), folder)  # once per model, shared by its targets
    targets = select_targets(index.model.graph, list(m.targets.nodes), list(m.targets.op_types),
                             dict(m.targets.plugin_names), getattr(m.targets, "fuse", ()),
                             getattr(m.targets, "fuse_patterns", ()))
    passed_in = varying_constants(index, targets, EMBED_LIMIT_BYTES)  # identical matches share one plugin
    arch = sort_archs(m.arch or DEFAULT_ARCH)
    tolerance = {k: (v.rtol, v.atol) for k, v in m.tolerance.items()}
    for t in targets:
        ex = extract(index, t, dynamic, m.dtype or "keep", passed_in.get(t.node_index, ()))
        sub = ex.subgraph.SerializeToString()
        explicit = m.targets.plugin_name(t.node_name)
        settings = {"arch": list(arch), "validate": m.validate, "trials": m.trials_for(t.op_type),
                    "tolerance": tolerance, "dtype": m.dtype or "keep"}
        content = digest({"subgraph": digest(sub), "signature": ex.signature.to_json(), "settings": settings,
                          "explicit_name": explicit})
        node = NodeRef(mp.index, t.node_index, t.node_name, t.op_type, ex.input_names, ex.output_names,
                       ex.folded_inputs, tuple((i, c[1]) for i, c in sorted(ex.input_casts.items())),
                       tuple((j, c[0]) for j, c in sorted(ex.output_casts.items())),
                       tuple(i for i in t.indices if i != t.node_index))
        name = by_content.get(content)
        if name is not None:
            log.debug("node %r (%s) of %s reuses plugin %s (same subgraph and settings)", t.node_name, t.op_type,
                      m.source.name, name)
        else:
            name = _unique_name(plan, t.plugin_name, explicit, m.source, t.node_name)
            by_content[content] = name
            reference = ex.reference.SerializeToString() if ex.reference is not None else None
            plan.plugins[name] = PluginTasks(name, t.op_type, sub, ex.signature, arch, m.validate, tolerance,
                                            settings["trials"], reference,
                                            content=plugin_content(sub, ex.signature, arch))
        plan.plugins[name].nodes.append(node)
        output = os.path.relpath(m.output, plan.output_dir)
        if output not in plan.plugins[name].models:
            plan.plugins[name].models.append(output)
        mp.nodes.append((node, name))


def plugin_content(subgraph: bytes, signature, arch) -> str:
    """What a plugin computes, independent of tpat's version and of tuning: two plugins of one name with the same
    content are interchangeable, with different content they are not (see `outputs_guard`)."""
    return digest({"subgraph": digest(subgraph), "signature": signature.to_json(), "arch": list(arch)})


def _tune_task(plan: TaskGraph, p: PluginTasks) -> str | None:
    """Plan the tune task when its records can exist here: in the cache, beside the outputs (imported, no GPU
    needed), or made now on this machine's GPU. Otherwise the plugin is built untuned, and `tpat plan` says so."""
    if p.trials <= 0:
        return None
    from ..cache import CacheStore
    from ..lowering.records import bucket_of, has_records

    v = plan.versions
    # No tpat code digest here: records are TVM schedules of a workload and stay valid across tpat releases (a
    # workload tpat now lowers differently simply finds no record and keeps the default schedule).
    inputs = {"subgraph": digest(p.subgraph), "signature": digest(p.signature.to_json()), "arch": p.lowering_arch,
              "trials": p.trials, "bucket": bucket_of(p.signature), "tvm": v["tvm"], "seed": SEED}
    key = task_key("tune", inputs)
    records = plan.layout.tuning(p.name)
    recorded = has_records(records) and _recorded_key(records) == key
    if not (recorded or plan.gpu or CacheStore(plan.cache_dir).has("tune", key)):
        p.notes.append(f"tune skipped: {p.trials} trials asked, but no GPU here and no records in "
                       f"{records}; building untuned")
        return None
    p.records_dir = str(records) if recorded else None
    p.records_key = key
    if recorded:  # verdicts (tuned slower than the default) can be re-measured: each set is its own import
        from ..lowering.records import dropped_kernels

        inputs = {**inputs, "dropped": sorted(dropped_kernels(records))}
        key = task_key("tune", inputs)
    p.tasks["tune"] = TaskSpec("tune", key, inputs)
    return key


def _recorded_key(records: Path) -> str | None:
    import json

    try:
        return json.loads((records / "tune.json").read_text()).get("key")
    except (OSError, ValueError):
        return None


def _unique_name(plan: TaskGraph, wanted: str, explicit: str | None, source: Path, node: str) -> str:
    if wanted not in plan.plugins:
        return wanted
    if explicit:
        raise TpatError(f"plugin name {wanted!r} (node {node!r} of {source.name}) is already used by a different "
                        "plugin", hint="plugin names must be unique across all models of the spec")
    n = 2
    while f"{wanted}_{n}" in plan.plugins:
        n += 1
    return f"{wanted}_{n}"


def _task_keys(plan: TaskGraph, p: PluginTasks) -> None:
    v = plan.versions
    # templates: the CUDA helpers some kernels call are part of the lowered source (tpat/lowering/cuda_helpers.py)
    lower = {"subgraph": digest(p.subgraph), "signature": digest(p.signature.to_json()), "arch": list(p.arch),
             "tvm": v["tvm"], "tpat": v["tpat"], "templates": v["templates"], "tune": _tune_task(plan, p)}
    p.tasks["lower"] = TaskSpec("lower", task_key("lower", lower), lower)
    codegen = {"lower": p.tasks["lower"].key, "plugin": p.name, "templates": v["templates"], "tpat": v["tpat"],
               "tensorrt_headers": v["tensorrt_headers"]}
    p.tasks["codegen"] = TaskSpec("codegen", task_key("codegen", codegen), codegen)
    build = {"codegen": p.tasks["codegen"].key, "nvcc": v["nvcc"], "arch": list(p.arch),
             "tensorrt_headers": v["tensorrt_headers"]}
    p.tasks["build"] = TaskSpec("build", task_key("build", build), build)
    if p.validate and plan.gpu:
        validate = {"build": p.tasks["build"].key, "device": plan.gpu, "tolerance": p.tolerance, "seed": SEED,
                    "reference": digest(p.reference) if p.reference else None}
        p.tasks["validate"] = TaskSpec("validate", task_key("validate", validate), validate)
