"""Copy a plugin's cache entries to its output folder (seed layout) and write its metadata file.

    trt_plugin/src/<p>.cu|.h, <p>_kernels.cu|.h     (codegen entry)
    trt_plugin/lib/<p>.so, lib<p>_kernels.so          (build entry)
    trt_plugin/meta/<p>.onnx, <p>.json                (the node as a model; signature, plan, builds, validation)

Files are replaced atomically and only when their bytes differ, so a re-apply that changes nothing touches nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..cache.keys import file_digest
from ..fsutil import atomic_write_bytes
from ..plan.model import PluginPlan
from .chain import ChainResult

SOURCE_SUFFIXES = (".cu", ".h")


def _place(data: bytes, dest: Path) -> None:
    if not dest.is_file() or dest.read_bytes() != data:
        atomic_write_bytes(dest, data)


def materialize(p: PluginPlan, chain: ChainResult, plugin_dir: Path, extra_meta: dict | None = None) -> dict[str, str]:
    """Returns {path relative to plugin_dir's parent: sha256} of every file placed."""
    placed: dict[Path, None] = {}
    for stage, sub in (("codegen", "src"), ("build", "lib")):
        entry = chain.entries.get(stage)
        if entry is None:
            continue
        for f in sorted(Path(entry).iterdir()):
            if f.suffix in SOURCE_SUFFIXES + (".so",):
                dest = plugin_dir / sub / f.name
                _place(f.read_bytes(), dest)
                placed[dest] = None
    tune_entry = chain.entries.get("tune")
    if tune_entry is not None:  # records beside the outputs: any machine rebuilds the tuned sources from them
        from ..stages.tune import RECORD_FILES

        for name in (*RECORD_FILES, "tune.json"):
            dest = plugin_dir / "tuning" / p.name / name
            _place((Path(tune_entry) / name).read_bytes(), dest)
            placed[dest] = None
    meta_dir = plugin_dir / "meta"
    _place(p.subgraph, meta_dir / f"{p.name}.onnx")
    placed[meta_dir / f"{p.name}.onnx"] = None
    if p.reference:  # the node at the model's precision: what validation compares a converted plugin with
        _place(p.reference, meta_dir / f"{p.name}.ref.onnx")
        placed[meta_dir / f"{p.name}.ref.onnx"] = None
    meta = plugin_meta(p, chain, extra_meta or {})
    _place((json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(), meta_dir / f"{p.name}.json")
    placed[meta_dir / f"{p.name}.json"] = None
    base = plugin_dir.parent
    return {str(path.relative_to(base)): file_digest(path) for path in placed}


def plugin_meta(p: PluginPlan, chain: ChainResult, extra: dict) -> dict:
    """What `tpat validate` needs on another machine, plus provenance; deterministic (no times, no abs paths)."""
    entries = chain.entries
    plan_json = json.loads((Path(entries["lower"]) / "plan.json").read_text()) if "lower" in entries else None
    signature = json.loads((Path(entries["lower"]) / "signature.json").read_text()) if "lower" in entries else None
    builds = _entry_meta(entries.get("build")).get("builds", [])
    validation = None
    if "validate" in entries:
        validation = json.loads((Path(entries["validate"]) / "report.json").read_text())
    return {
        "plugin": p.name,
        "plugin_version": "1",
        "plugin_namespace": "",
        "op_type": p.op_type,
        "nodes": [{"node": n.node_name, "op_type": n.op_type, "model_inputs": list(n.inputs),
                   "model_outputs": list(n.outputs), "folded_inputs": list(n.folded)} for n in p.nodes],
        "signature": signature,
        "launch_plan": plan_json,
        "arch": list(p.arch),
        "builds": builds,
        # atomics (ScatterND add) sum in whatever order threads arrive: equal runs may differ in the last bits
        "deterministic": not _uses_atomics(entries.get("lower")),
        "validation": validation or {"passed": None, "reason": "not run (no GPU here, or disabled)"},
        **extra,
    }


def _uses_atomics(entry: str | None) -> bool:
    if entry is None:
        return False
    return any("atomic" in p.read_text() for p in Path(entry).glob("*tvm.cu"))


def _entry_meta(entry: str | None) -> dict:
    if entry is None:
        return {}
    return json.loads((Path(entry) / "entry.json").read_text()).get("meta", {})


def plugin_paths(plugin_dir: Path, plugin: str) -> dict[str, Path]:
    """Where each output of a plugin lands (the seed's layout plus the kernels-only library and meta files)."""
    from ..stages.codegen import file_names

    src, lib, meta = plugin_dir / "src", plugin_dir / "lib", plugin_dir / "meta"
    return {
        **{key: src / name for key, name in file_names(plugin).items()},
        "kernels_library": lib / f"lib{plugin}_kernels.so",
        "plugin_library": lib / f"{plugin}.so",
        "subgraph": meta / f"{plugin}.onnx",
        "meta": meta / f"{plugin}.json",
    }
