"""A plugin's output files in its `trt_plugin/` folder (`tpat.layout`), composed from its cache entries (sources
from the codegen entry, libraries from the build entry, records from the tune entry, metadata from all);
`tpat.outputs.place` writes them.

Only the files an entry lists in its `entry.json` are copied: nothing else that may sit in a cache folder reaches
the outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..cache.store import ENTRY
from ..layout import PluginLayout
from ..outputs import OutputFile, Outputs
from ..planner.task_graph import PluginTasks
from .chain import ChainResult

SOURCE_SUFFIXES = (".cu", ".h")
LIBRARY_SUFFIX = ".so"


def listed_files(entry: str | Path) -> list[Path]:
    """The files a cache entry lists in its entry.json: the only ones that may be copied out of it."""
    entry = Path(entry)
    return [entry / name for name in sorted(json.loads((entry / ENTRY).read_text())["files"])]


def plugin_outputs(p: PluginTasks, chain: ChainResult, plugin_dir: Path, extra_meta: dict | None = None) -> Outputs:
    """Every file of plugin `p` under `plugin_dir`, with its bytes; nothing is written."""
    out: Outputs = {}
    layout = PluginLayout(plugin_dir)
    for stage in ("codegen", "build"):
        entry = chain.entries.get(stage)
        if entry is None:
            continue
        for f in listed_files(entry):
            if f.suffix in SOURCE_SUFFIXES + (LIBRARY_SUFFIX,):
                out[layout.folder_for(f.name) / f.name] = OutputFile(f.read_bytes(),
                                                                      executable=f.suffix == LIBRARY_SUFFIX)
    tune_entry = chain.entries.get("tune")
    if tune_entry is not None:  # records beside the outputs: any machine rebuilds the tuned sources from them
        from ..lowering.records import RECORD_FILES

        for name in (*RECORD_FILES, "tune.json"):
            out[layout.tuning(p.name) / name] = OutputFile((Path(tune_entry) / name).read_bytes())
    out[layout.path(p.name, "subgraph")] = OutputFile(p.subgraph)
    if p.reference:  # the node at the model's precision: what validation compares a converted plugin with
        out[layout.path(p.name, "reference")] = OutputFile(p.reference)
    meta = plugin_meta(p, chain, extra_meta or {})
    out[layout.path(p.name, "meta")] = OutputFile((json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return out


def plugin_meta(p: PluginTasks, chain: ChainResult, extra: dict) -> dict:
    """What `tpat validate` needs on another machine, plus provenance; deterministic (no times, no abs paths)."""
    entries = chain.entries
    plan_json = json.loads((Path(entries["lower"]) / "plan.json").read_text()) if "lower" in entries else None
    signature = json.loads((Path(entries["lower"]) / "signature.json").read_text()) if "lower" in entries else None
    build = _entry_meta(entries.get("build"))
    validation = None
    if "validate" in entries:
        validation = json.loads((Path(entries["validate"]) / "report.json").read_text())
    return {
        "plugin": p.name,
        "plugin_version": "1",
        "plugin_namespace": "",
        "op_type": p.op_type,
        "content": p.content,
        "models": list(p.models),
        "nodes": [{"node": n.node_name, "op_type": n.op_type, "model_inputs": list(n.inputs),
                   "model_outputs": list(n.outputs), "folded_inputs": list(n.folded)} for n in p.nodes],
        "signature": signature,
        "launch_plan": plan_json,
        "arch": list(p.arch),
        "builds": build.get("builds", []),
        "tensorrt_headers": build.get("tensorrt_headers"),  # what <plugin>.so was compiled against (None: not built)
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
    return json.loads((Path(entry) / ENTRY).read_text()).get("meta", {})
