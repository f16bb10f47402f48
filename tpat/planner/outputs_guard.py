"""What a plan may write, checked before any work: the input model is never a target, the output folders are
writable folders, and nothing another spec or run left in the output folder is overwritten with something else.

Every check here only reads the file system, so `tpat plan` reports the same problems `tpat apply` would, and an
apply that would fail writing its outputs fails in a second instead of after every build.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import TpatError
from ..layout import MANIFEST_NAME
from .task_graph import ModelTasks, TaskGraph


def same_file(a: Path, b: Path) -> bool:
    """Whether writing `a` would write `b`: one path, a symlink to it, or a hard link."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def model_problem(mp: ModelTasks) -> str | None:
    """Why this model's output cannot be written (the input itself, a folder, an unwritable place), or None."""
    if same_file(mp.output, mp.source):
        return (f"the output '{mp.output}' is the input model '{mp.source}' (same file): tpat never modifies its "
                "input; choose another output path")
    return writable_file(mp.output, "output model")


def writable_file(path: Path, what: str) -> str | None:
    if path.is_dir():
        return f"the {what} '{path}' is a folder"
    return writable_folder(path.parent, f"folder of the {what}")


def writable_folder(folder: Path, what: str) -> str | None:
    """None if `folder` is, or can be made, a writable folder; else why not."""
    probe = Path(folder)
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"the {what} '{folder}' cannot be created: '{probe}' is a file"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"the {what} '{folder}' is not writable ('{probe}' refuses writes)"
    return None


def check_outputs(plan: TaskGraph, spec_file: Path | None) -> None:
    """The whole plan's outputs (folders, plugins, a manifest that belong to someone else): raise, naming what is
    there and who made it. (A problem with one model's own output fails that model only: `model_problem`.)"""
    problems = [p for p in (writable_folder(plan.output_dir, "output folder"),
                            writable_folder(plan.plugin_dir, "plugin folder")) if p]
    problems += _foreign_plugins(plan)
    if spec_file is not None:
        problems += _foreign_manifest(plan, spec_file)
    if problems:
        raise TpatError("cannot write the outputs:\n  " + "\n  ".join(problems),
                        hint="choose another output_dir (or -o / plugin_dir), or another plugin name; tpat never "
                             "overwrites what another spec or run made")


def _foreign_plugins(plan: TaskGraph) -> list[str]:
    """A plugin of the same name already in the folder, computing something else, made for other models."""
    problems = []
    for name, p in plan.plugins.items():
        meta_path = plan.layout.path(name, "meta")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue  # none there (or unreadable: it is replaced like any damaged output)
        content, owners = meta.get("content"), meta.get("models") or []
        if not content or content == p.content or set(owners) & set(p.models):
            continue
        problems.append(f"plugin '{name}' in '{plan.plugin_dir}' was made from another node for "
                        f"{', '.join(owners)}; this run would replace it with a different one for "
                        f"{', '.join(p.models)}, and the first model would then fail in TensorRT")
    return problems


def _foreign_manifest(plan: TaskGraph, spec_file: Path) -> list[str]:
    """Another spec's manifest in the output folder."""
    import yaml

    path = plan.output_dir / MANIFEST_NAME
    try:
        recorded = (yaml.safe_load(path.read_text()) or {}).get("spec")
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    ours = spec_reference(spec_file, plan.output_dir)
    if recorded is None or recorded == ours:
        return []
    return [f"'{path}' is the manifest of spec '{recorded}' (relative to the output folder); spec '{ours}' would "
            "overwrite it and the outputs it lists"]


def spec_reference(spec_file: Path, output_dir: Path) -> str:
    """How a manifest names the spec that owns its folder: the spec's path relative to that folder."""
    return os.path.relpath(spec_file, output_dir)
