"""The checkers' output (one `tag k=v ... msg=text` line per fact, the same from the C++ and the Python checker)
read into a report whose problems name the node, the plugin and the library.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Mapping

from .plugin_info import PluginInfo

# Exit codes of both checkers.
EXIT_STATUS = {0: "ok", 2: "usage", 3: "setup-failed", 4: "register-failed", 5: "import-failed",
               6: "build-failed", 7: "run-failed"}


_FIELD = re.compile(r"(\w[\w-]*)=(\S*)")


def parse_line(line: str) -> tuple[str, dict[str, str]]:
    """'tag k=v k=v msg=free text' -> (tag, {k: v, msg: free text})."""
    tag, _, rest = line.partition(" ")
    msg = None
    if " msg=" in f" {rest}":
        head, _, msg = f" {rest}".partition(" msg=")
        rest = head
    fields = dict(_FIELD.findall(rest))
    if msg is not None:
        fields["msg"] = msg
    return tag, fields


@dataclass
class PluginCheck:
    plugin: str
    node: str
    library: str
    registered: bool | None = None  # None: not attempted
    imported: bool | None = None
    layer: dict | None = None  # plugin/version/namespace of the layer the parser made
    problems: list[str] = field(default_factory=list)


@dataclass
class RtxReport:
    model: str
    backend: str
    status: str
    exit_code: int
    engine_bytes: int | None
    build_seconds: float | None
    plugins: list[PluginCheck]
    problems: list[str]
    warnings: list[str]
    command: list[str]
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def summary(self) -> str:
        head = (f"TensorRT-RTX check {'PASSED' if self.ok else 'FAILED'} ({self.status}): {self.model}"
                + (f", engine {self.engine_bytes} bytes" if self.engine_bytes else "") + f" [{self.backend} checker]")
        lines = [head]
        for p in self.plugins:
            state = lambda v: "yes" if v else ("no" if v is False else "-")  # noqa: E731
            lines.append(f"  {p.plugin:28} node={p.node!r:24} registered={state(p.registered):3} "
                         f"imported={state(p.imported)}")
        lines += [f"  problem: {m}" for m in self.problems]
        lines += [f"  warning: {m}" for m in self.warnings]
        return "\n".join(lines)


def interpret(stdout: str, stderr: str, returncode: int, checks: dict[str, PluginCheck],
               plugins: Mapping[str, PluginInfo], nodes) -> dict:
    """Turn the checker's lines into per-plugin states and messages that name the node."""
    problems: list[str] = []
    warnings: list[str] = []
    creators: list[dict] = []
    lib_to_checks: dict[str, list[PluginCheck]] = {}
    for c in checks.values():
        lib_to_checks.setdefault(c.library, []).append(c)
    logs: dict[str, list[str]] = {}
    engine_bytes = build_seconds = None
    status, exit_code = None, returncode
    for line in stdout.splitlines():
        tag, f = parse_line(line.strip())
        if tag == "log":
            logs.setdefault(f.get("stage", ""), []).append(f"{f.get('severity')}: {f.get('msg', '')}")
        elif tag == "creator":
            creators.append(f)
        elif tag == "register":
            for c in lib_to_checks.get(f.get("lib", ""), []):
                c.registered = f.get("status") == "ok"
                if not c.registered:
                    errs = [m for m in logs.get("register", []) if m.startswith(("error", "internal"))]
                    c.problems.append(f"plugin '{c.plugin}' (node '{c.node}'): library '{c.library}' failed to "
                                      f"register: {f.get('msg', '')}" + (f" -- {'; '.join(errs[-3:])}" if errs else ""))
        elif tag == "library" and f.get("status") == "fail":
            problems.append(f"TensorRT-RTX setup: {f.get('msg', '')}")
        elif tag == "setup" and f.get("status") == "fail":
            problems.append(f"TensorRT-RTX setup: {f.get('msg', '')}")
        elif tag == "parse-error":
            node = f.get("name", "")
            c = checks.get(node)
            text = f"node '{node}' (op {f.get('op', '?')}): the ONNX parser could not import it: {f.get('msg', '')}"
            hint = _explain_import(f.get("op", ""), node, nodes, creators)
            if hint:
                text += f" -- {hint}"
            if c is not None:
                c.imported = False
                c.problems.append(text)
            else:
                problems.append(text)
        elif tag == "import":
            c = checks.get(f.get("node", ""))
            if c is None:
                continue
            c.imported = f.get("status") == "ok"
            if f.get("status") != "missing":
                c.layer = {k: f.get(k, "") for k in ("plugin", "version", "namespace")}
            if f.get("status") == "missing":
                c.problems.append(f"node '{c.node}': the parser made no IPluginV3 layer for it")
            elif f.get("status") == "mismatch":
                c.problems.append(f"node '{c.node}': imported as plugin {f.get('plugin')} version {f.get('version')} "
                                  f"namespace '{f.get('namespace')}', expected {f.get('expected')}")
        elif tag == "profile" and f.get("status") == "fail":
            problems.append(f"optimisation profile for input '{f.get('input', '?')}': {f.get('msg', '')}")
        elif tag == "build":
            build_seconds = float(f.get("seconds", 0) or 0)
            if f.get("status") == "ok":
                engine_bytes = int(f.get("engine_bytes", 0))
            else:
                errs = [m for m in logs.get("build", []) if m.startswith(("error", "internal"))]
                problems.append("engine build failed: " + (" | ".join(errs) if errs else f.get("msg", "")))
        elif tag == "run" and f.get("status") == "fail":
            errs = [m for m in logs.get("run", []) if m.startswith(("error", "internal"))]
            problems.append("engine run failed: " + f.get("msg", "") + (f" -- {' | '.join(errs[-2:])}" if errs else ""))
        elif tag == "result":
            status, exit_code = f.get("status"), int(f.get("exit", returncode))
    # Nodes the parser never reached (it stops at the first failing node) keep imported=None.
    for c in checks.values():
        problems.extend(c.problems)
    if status is None:
        status = "crashed" if returncode < 0 or returncode not in EXIT_STATUS else EXIT_STATUS[returncode]
        tail = " | ".join((stderr or stdout).strip().splitlines()[-5:])
        problems.append(f"the checker ended without a result (exit {returncode}): {tail}")
        if exit_code == 0:
            exit_code = 1
    warnings += [m.split(": ", 1)[1] for s in ("parse", "build") for m in logs.get(s, [])
                 if m.startswith("warning") and "Make sure input" not in m]
    return {"status": status, "exit_code": exit_code, "engine_bytes": engine_bytes, "build_seconds": build_seconds,
            "problems": problems, "warnings": warnings}


def _explain_import(op: str, node: str, nodes, creators: list[dict]) -> str:
    """Why the parser found no creator: compare what the node asks for with what was registered."""
    asked = next(((n, v, ns) for (nn, n, v, ns) in nodes if nn == node), None)
    if asked is None:
        return ""
    name, version, ns = asked
    same_name = [c for c in creators if c.get("name") == name]
    if not same_name:
        return (f"no loaded plugin library registered a creator named '{name}' (version {version}, namespace '{ns}'): "
                "its library is missing or was not loaded")
    have = ", ".join(f"version {c.get('version')} namespace '{c.get('namespace', '')}'" for c in same_name)
    if all((c.get("version"), c.get("namespace", "")) != (version, ns) for c in same_name):
        return (f"the node asks for '{name}' version {version} namespace '{ns}' (attributes plugin_version / "
                f"plugin_namespace), but the registered library provides {have}")
    return ""
