"""Codegen: launch plan + TVM CUDA + signature -> the plugin's C++/CUDA sources, rendered from `templates/`.

Files (seed layout): `<plugin>_kernels.h/.cu` (TVM kernels + C ABI launcher, needs no TensorRT) and
`<plugin>.h/.cu` (the IPluginV3 adapter over that ABI). Kernel names get the plugin name as a prefix, so any
number of plugins can be linked into one binary.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .._version import __version__
from .. import layout
from ..cpp_text import c_identifier
from ..ir import expr as E
from ..ir.signature import Signature
from ..render import render
from ..lowering.lowered import Lowered, read_lowered

log = logging.getLogger(__name__)
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = ""
_SCALAR_C = {"int64": "int64_t", "int32": "int32_t", "int16": "int16_t", "int8": "int8_t", "uint64": "uint64_t",
             "uint32": "uint32_t", "uint8": "uint8_t", "bool": "bool", "float32": "float", "float64": "double"}


def run(p, workdir: Path, upstream) -> dict:
    """The codegen task: the kernels sources (with a dispatcher over the symbolic and tuned kernel sets when the
    lower task made both) and, when TensorRT headers are here, the IPluginV3 sources."""
    from ..cache.keys import tvm_version

    entry = Path(upstream.entries["lower"])
    lowered = read_lowered(entry)
    arch = list(p.arch)
    if (entry / "bucket.json").is_file():
        bucket = json.loads((entry / "bucket.json").read_text())
        ctx, files = render_tuned_kernels(p.name, lowered, [(bucket, read_lowered(entry, "b_"))], arch,
                                          tvm_version())
    else:
        ctx = context(p.name, lowered, arch, tvm_version(), tuned="tune" in upstream.entries)
        files = render_kernels(ctx)
    if upstream.trt_include:
        files.update(render_plugin(ctx))
    for name, text in files.items():
        (workdir / name).write_text(text)
    log.info("codegen %s: %s", p.name, ", ".join(sorted(files)))
    return {"files": sorted(files)}


def file_names(plugin: str) -> dict[str, str]:
    """The source files codegen writes, by role (`tpat.layout` names every file of a plugin)."""
    names = layout.file_names(plugin)
    return {role: names[role] for role in layout.SOURCES}


def prefix_kernels(cuda_source: str, names: list[str], prefix: str) -> str:
    for name in sorted(set(names), key=len, reverse=True):
        cuda_source = re.sub(rf"\b{re.escape(name)}\b", prefix + name, cuda_source)
    return cuda_source


def context(plugin: str, lowered: Lowered, arch_list: list[str], tvm_version: str, tuned: bool = False,
            variant: int | None = None) -> dict:
    """Template context of one kernel set. `variant` numbers the sets of a tuned plugin (their functions are
    hidden and reached through the dispatcher); None for the usual single set, which is the C ABI itself."""
    c_identifier(plugin)  # plugin names are sanitised at selection; a bug if not (it names C++ namespaces)
    sig: Signature = lowered.signature
    plan = lowered.launch_plan.to_json()
    plan.setdefault("copies", [])
    tag = "" if variant is None else f"_v{variant}"
    prefix = f"tpat_{plugin}_{tag}_"
    cuda_source = prefix_kernels(lowered.cuda_source, [k["name"] for k in plan["kernels"]], prefix)
    max_dims = [d.max for d in sig.dims]
    for k, kernel in zip(plan["kernels"], lowered.launch_plan.kernels):
        k["name"] = prefix + k["name"]
        k["smem_max"] = E.evaluate(kernel.dyn_smem, max_dims)
        k.setdefault("when", [])  # guards on the dims: the kernel runs where all hold (launch_plan.Guard)
        for a in k["args"]:
            if a["kind"] == "scalar":
                a["c_scalar"] = _SCALAR_C.get(a["ctype"], "int64_t")
    for c, const in zip(plan["constants"], lowered.launch_plan.constants):
        data = const.data
        c["rows"] = [", ".join(f"0x{b:02x}" for b in data[i:i + 24]) + "," for i in range(0, len(data), 24)]
    return {
        "tpat_version": __version__,
        "tvm_version": tvm_version,
        "tuned": tuned,
        "arch_list": arch_list,
        "plugin": {"name": plugin, "ident": plugin, "version": PLUGIN_VERSION, "namespace": PLUGIN_NAMESPACE},
        "inputs": [_tensor(t) for t in sig.inputs],
        "outputs": [_tensor(t) for t in sig.outputs],
        "dims": [d.to_json() for d in sig.dims],
        "launch_plan": plan,
        "constants": plan["constants"],
        "cuda_source": cuda_source.rstrip() + "\n",
        "files": file_names(plugin),
        "fn": f"tpat_{plugin}_" if variant is None else f"tpat_{plugin}__v{variant}_",
        "api": "TPAT_API" if variant is None else "TPAT_VARIANT_API",
        "variant_tag": tag,
    }


def _tensor(t) -> dict:
    d = t.dtype
    return {"name": t.name, "dtype": {"name": d.name, "c": d.c, "trt": d.trt, "itemsize": d.itemsize},
            "shape": [E.to_json(s) for s in t.shape]}


def render_kernels(ctx: dict) -> dict[str, str]:
    f = ctx["files"]
    return {f["kernels_header"]: render("kernels.h.j2", **ctx), f["kernels_source"]: render("kernels.cu.j2", **ctx)}


def render_plugin(ctx: dict) -> dict[str, str]:
    f = ctx["files"]
    return {f["plugin_header"]: render("plugin.h.j2", **ctx), f["plugin_source"]: render("plugin.cu.j2", **ctx)}


def render_tuned_kernels(plugin: str, symbolic: Lowered, tuned: list[tuple[dict[str, int], Lowered]],
                         arch_list: list[str], tvm_version: str) -> tuple[dict, dict[str, str]]:
    """Kernel sets of a tuned plugin: variant 0 symbolic (every dim value), then one per tuned bucket, each in its
    own translation unit (TVM's CUDA prelude is not meant to be included twice), plus the dispatcher that is the
    C ABI. Returns (the context the plugin templates use, {file name: text})."""
    ctx0 = context(plugin, symbolic, arch_list, tvm_version, variant=0)
    sets = [(ctx0, None)] + [(context(plugin, low, arch_list, tvm_version, tuned=True, variant=i + 1), bucket)
                             for i, (bucket, low) in enumerate(tuned)]
    files = {ctx0["files"]["kernels_header"]: render("kernels.h.j2", **ctx0)}
    variants = []
    for i, (ctx, bucket) in enumerate(sets):
        name = f"{plugin}_kernels_v{i}.cu"
        files[name] = render("kernels.cu.j2", **ctx)
        values = [bucket[d.name] for d in symbolic.signature.dims] if bucket else []
        variants.append({"index": i, "fn": ctx["fn"], "file": name, "bucket": values,
                         "describe": "symbolic, untuned" if bucket is None else
                         "tuned for " + ", ".join(f"{k}={v}" for k, v in bucket.items())})
    files[ctx0["files"]["kernels_source"]] = render("kernels_dispatch.cu.j2", **ctx0, variants=variants)
    return ctx0, files
