"""TensorRT's own registry, ONNX parser and builder on our plugins, on a machine without a GPU (TensorRT for RTX).

TensorRT-RTX builds engines ahead of time without a GPU and follows the TensorRT 11 ABI, so it can prove, on any
x86-64 Linux box, that a rewritten model and its plugin libraries work with TensorRT itself:

1. every ``trt_plugin/lib/<plugin>.so`` registers through ``IPluginRegistry::loadLibrary`` (``getCreators``);
2. the RTX ONNX parser imports every plugin node of the rewritten model as an IPluginV3 layer of that plugin's
   name / version / namespace;
3. ``buildSerializedNetwork`` builds an engine for the optimisation profile the plugins were generated for (from
   ``trt_plugin/meta/*.json``), which runs the plugins' build-time code (output types and shapes, format
   negotiation, ``configurePlugin`` on the profile).

Two checkers print the same line format (``tpat/trt/checker/``): the C++ one (``rtx_check.cpp``, compiled once with
nvcc against TensorRT 11.x headers and cached; it can also ``--run`` the engine on an Ampere/Ada/Blackwell GPU) and a
Python one using TensorRT-RTX's own bindings (no headers needed; what CI uses, since PyPI ships no TensorRT 11
headers). Both run in a child process: a broken plugin may crash it, and the RTX parser needs ``libtensorrt_rtx.so``
on LD_LIBRARY_PATH (it dlopens that exact name when it imports a plugin and calls std::terminate otherwise).

Where the libraries come from, first found wins: ``$TENSORRT_RTX_LIB_DIR`` (a folder with libtensorrt_rtx.so* and
libtensorrt_onnxparser_rtx.so*), the ``tensorrt-rtx-cu13-libs`` wheel (module ``tensorrt_rtx_libs``), the
``onnxruntime-ep-nv-tensorrt-rtx-cu13`` wheel. The bindings are ``tensorrt-rtx-cu13-bindings`` (same version as the
libs wheel). TensorRT 11.x headers: ``$TENSORRT_INCLUDE_DIR`` when it is 11+, else ``.trt/v11*/include`` in the
current folder or the tpat source checkout, else the first 11+ folder of those tpat.trt.headers searches.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import TpatError
from .headers import ENV_VAR as HEADERS_ENV, TrtHeaders, read_version

CHECKER_DIR = Path(__file__).resolve().parent / "checker"
CHECKER_CPP = CHECKER_DIR / "rtx_check.cpp"
LIB_DIR_ENV = "TENSORRT_RTX_LIB_DIR"
LIBS_WHEEL = ("tensorrt_rtx_libs", "tensorrt-rtx-cu13-libs==1.7.1.116")
EP_WHEEL = ("onnxruntime_ep_nv_tensorrt_rtx", "onnxruntime-ep-nv-tensorrt-rtx-cu13==0.5.0")
BINDINGS = ("tensorrt_rtx_bindings", "tensorrt-rtx-cu13-bindings==1.7.1.116")
PLUGIN_DOMAIN = "trt.plugins"
INSTALL_HINT = (f"pip install {LIBS_WHEEL[1]} {BINDINGS[1]}  (about 96 MB; or pip install -e '.[trt-rtx]')")

# Exit codes of both checkers.
EXIT_STATUS = {0: "ok", 2: "usage", 3: "setup-failed", 4: "register-failed", 5: "import-failed",
               6: "build-failed", 7: "run-failed"}


# --- locating TensorRT-RTX and the TensorRT 11 headers -------------------------------------------------------------

@dataclass(frozen=True)
class RtxLibs:
    source: str  # where they were found: the env var or the wheel's module
    rtx_lib: Path
    parser_lib: Path


def _pick(folder: Path, base: str) -> Path | None:
    """The real file of `base`.so* in `folder`, longest version suffix first (libx.so.1.7.1 before libx.so.1)."""
    candidates = [p for p in folder.glob(f"{base}.so*") if p.is_file()]
    candidates.sort(key=lambda p: (p.is_symlink(), -len(p.name)))
    return candidates[0].resolve() if candidates else None


def _module_dir(module: str) -> Path | None:
    # find_spec does not import: importing the EP package would preload 230 MB of TensorRT into this process.
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_rtx_libs(prefer: str | None = None) -> RtxLibs | None:
    """The TensorRT-RTX builder + ONNX parser libraries, or None. `prefer` = a module name to try first."""
    places: list[tuple[str, Path | None]] = []
    env = os.environ.get(LIB_DIR_ENV)
    if env:
        places.append((LIB_DIR_ENV, Path(env)))
    modules = [LIBS_WHEEL[0], EP_WHEEL[0]]
    if prefer in modules:
        modules.remove(prefer)
        modules.insert(0, prefer)
    places += [(m, _module_dir(m)) for m in modules]
    for source, folder in places:
        if folder is None or not folder.is_dir():
            continue
        rtx, parser = _pick(folder, "libtensorrt_rtx"), _pick(folder, "libtensorrt_onnxparser_rtx")
        if rtx and parser:
            return RtxLibs(source, rtx, parser)
    return None


def bindings_available() -> bool:
    return _module_dir(BINDINGS[0]) is not None and _module_dir(LIBS_WHEEL[0]) is not None


def find_trt11_headers() -> TrtHeaders | None:
    """TensorRT 11.x public headers for the C++ checker, or None (10.x headers do not fit TRT-RTX's ABI)."""
    candidates: list[Path] = []
    env = os.environ.get(HEADERS_ENV)
    if env:
        candidates.append(Path(env))
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidates += sorted((root / ".trt").glob("v11*/include"), reverse=True)
    from .headers import candidate_dirs

    candidates += candidate_dirs()
    for inc in candidates:
        if not (inc / "NvInferRuntime.h").is_file() or not (inc / "NvOnnxParser.h").is_file():
            continue
        try:
            version = read_version(inc)
        except TpatError:
            continue
        if version[0] >= 11:
            return TrtHeaders(inc, version)
    return None


def choose_backend(backend: str = "auto") -> str:
    """'cpp' (TensorRT 11 headers + RTX libraries) or 'python' (the RTX bindings); TpatError says what is missing."""
    if backend not in ("auto", "cpp", "python"):
        raise TpatError(f"unknown checker backend {backend!r}", hint="use auto, cpp or python")
    libs, headers, bindings = find_rtx_libs(), None, bindings_available()
    if backend in ("auto", "cpp") and libs is not None:
        headers = find_trt11_headers()
        if headers is not None:
            return "cpp"
    if backend in ("auto", "python") and bindings:
        return "python"
    if backend == "cpp":
        missing = [] if libs else ["the TensorRT-RTX libraries"]
        missing += [] if headers or not libs else ["TensorRT 11.x headers"]
        raise TpatError(f"the C++ TensorRT-RTX checker needs {' and '.join(missing) or 'TensorRT 11.x headers'}",
                        hint=f"{INSTALL_HINT}; headers: set {HEADERS_ENV} to the 'include' folder of TensorRT 11.x "
                             "(OSS TensorRT tag v11.1: git archive v11.1 include), or extract it to .trt/v11.1/include")
    raise TpatError(
        "TensorRT-RTX is not installed: `tpat check-trt` needs TensorRT for RTX (it builds engines without a GPU)",
        hint=f"{INSTALL_HINT}; or the {EP_WHEEL[1]} wheel plus TensorRT 11.x headers in {HEADERS_ENV} "
             "for the C++ checker")


# --- the C++ checker -------------------------------------------------------------------------------------------------

def cache_root(cache_dir: str | Path | None = None) -> Path:
    root = cache_dir or os.environ.get("TPAT_CACHE_DIR") or "~/.cache/tpat"
    return Path(os.path.expanduser(str(root))) / "rtx-check"


def build_checker(headers: TrtHeaders, cache_dir: str | Path | None = None) -> Path:
    """Compile rtx_check.cpp once per (source, headers); later calls return the cached binary."""
    from ..stages.build import find_nvcc, nvcc_version

    nvcc = find_nvcc()
    source = CHECKER_CPP.read_bytes()
    key = hashlib.sha256(source + f"|{headers.include_dir.resolve()}|{headers.version}|{nvcc_version()}".encode())
    out = cache_root(cache_dir) / f"rtx_check-{key.hexdigest()[:16]}"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # -cudart none: the CUDA runtime is dlopen'ed only by --run; -isystem keeps TensorRT's own warnings out.
    command = [nvcc, "-std=c++17", "-O2", "-Xcompiler", "-Wall,-Wextra", "-isystem", str(headers.include_dir),
               "-cudart", "none", "-o", str(tmp), str(CHECKER_CPP), "-ldl"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise TpatError(f"compiling the TensorRT-RTX checker failed (headers {headers.include_dir}, "
                        f"TensorRT {headers.version_str}):\n{(proc.stderr or proc.stdout)[-4000:]}",
                        hint="the checker needs TensorRT 11.x headers and nvcc")
    os.replace(tmp, out)
    return out


def link_dir(libs: RtxLibs, cache_dir: str | Path | None = None) -> Path:
    """A folder with the names the RTX libraries are looked up by (libtensorrt_rtx.so, .so.1, ...) -> the real files."""
    key = hashlib.sha256(f"{libs.rtx_lib}|{libs.parser_lib}".encode()).hexdigest()[:12]
    folder = cache_root(cache_dir) / f"libs-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for real, base in ((libs.rtx_lib, "libtensorrt_rtx"), (libs.parser_lib, "libtensorrt_onnxparser_rtx")):
        for name in (f"{base}.so", f"{base}.so.1"):
            link = folder / name
            if link.is_symlink() and Path(os.readlink(link)) == real:
                continue
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(real)
            os.replace(tmp, link)
    return folder


# --- what to check: plugins, expectations, profile -------------------------------------------------------------------

@dataclass
class PluginInfo:
    plugin: str
    nodes: list[str]
    library: Path
    meta: dict = field(default_factory=dict)
    version: str = "1"
    namespace: str = ""
    header_version: str | None = None  # TensorRT headers the library was built against, when the meta tells

    def model_inputs(self) -> list[list[str]]:
        """Per node of this plugin, the model tensors feeding plugin inputs 0, 1, ..."""
        if "nodes" in self.meta:
            return [list(n.get("model_inputs", [])) for n in self.meta["nodes"]]
        return [list(self.meta.get("model_inputs", []))]


def _header_version(meta: dict, name: str) -> str | None:
    for key in ("trt_headers", "tensorrt_headers"):  # a string like "11.1.0" (or {"version": ...}) when recorded
        value = meta.get(key)
        if isinstance(value, dict):
            value = value.get("version")
        if isinstance(value, str) and value:
            return value
    for b in meta.get("builds", []):  # older metadata kept the nvcc command line
        cmd = b.get("command") or b.get("flags") or []
        if b.get("output") == f"{name}.so" and "-isystem" in cmd:
            try:
                return ".".join(map(str, read_version(Path(cmd[cmd.index("-isystem") + 1]))))
            except (TpatError, IndexError):
                return None
    return None


def read_plugins(plugin_dir: Path) -> dict[str, PluginInfo]:
    """plugin name -> what meta/<plugin>.json says (nodes, library path, version, dims)."""
    plugins: dict[str, PluginInfo] = {}
    for path in sorted((plugin_dir / "meta").glob("*.json")):
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TpatError(f"cannot read plugin metadata '{path}': {exc}") from None
        name = meta.get("plugin") or path.stem
        if "nodes" in meta:
            nodes = [n.get("node", "") for n in meta["nodes"]]
        else:
            nodes = [meta.get("node", {}).get("name", "")]
        plugins[name] = PluginInfo(name, nodes, plugin_dir / "lib" / f"{name}.so", meta,
                                   str(meta.get("plugin_version", "1")), str(meta.get("plugin_namespace", "")),
                                   _header_version(meta, name))
    return plugins


def _attr(node, name: str, default: str) -> str:
    for a in node.attribute:
        if a.name == name:
            return a.s.decode() if a.s else default
    return default


def plugin_nodes(model, plugins: Mapping[str, PluginInfo]) -> list[tuple[str, str, str, str]]:
    """(node, plugin name, version, namespace) for every node the parser must import as a plugin."""
    found = []
    for i, node in enumerate(model.graph.node):
        if node.domain == PLUGIN_DOMAIN or node.op_type in plugins:
            found.append((node.name or f"node_{i}", node.op_type, _attr(node, "plugin_version", "1"),
                          _attr(node, "plugin_namespace", "")))
    return found


Shape3 = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def profile_shapes(model, plugins: Mapping[str, PluginInfo],
                   overrides: Mapping[str, Shape3] | None = None) -> dict[str, Shape3]:
    """min/opt/max per dynamic graph input: a dim named like a plugin dim (e.g. 'batch') or fed to a plugin input
    axis takes that dim's range from the plugin metadata; `overrides` win."""
    by_name: dict[str, tuple[int, int, int]] = {}
    by_input_axis: dict[tuple[str, int], tuple[int, int, int]] = {}
    for p in plugins.values():
        for d in p.meta.get("signature", {}).get("dims", []):
            rng = (int(d["min"]), int(d["opt"]), int(d["max"]))
            for key in {d.get("name"), d.get("label")} - {None}:
                by_name.setdefault(key, rng)
            for model_inputs in p.model_inputs():
                if 0 <= d.get("input", -1) < len(model_inputs):
                    by_input_axis.setdefault((model_inputs[d["input"]], int(d["axis"])), rng)
    initializers = {t.name for t in model.graph.initializer}
    shapes: dict[str, Shape3] = {}
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        if overrides and vi.name in overrides:
            shapes[vi.name] = overrides[vi.name]
            continue
        dims = vi.type.tensor_type.shape.dim
        lo, opt, hi, dynamic = [], [], [], False
        for axis, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                for v in (lo, opt, hi):
                    v.append(d.dim_value)
                continue
            rng = by_name.get(d.dim_param) if d.dim_param else None
            rng = rng or by_input_axis.get((vi.name, axis))
            if rng is None:
                raise TpatError(f"model input '{vi.name}' axis {axis} is dynamic ('{d.dim_param or '?'}') and no "
                                "plugin metadata gives its range",
                                hint=f"pass --shape {vi.name}=MINxA:OPTxA:MAXxA (dims joined by 'x')")
            dynamic = True
            lo.append(rng[0])
            opt.append(rng[1])
            hi.append(rng[2])
        if dynamic:
            shapes[vi.name] = (tuple(lo), tuple(opt), tuple(hi))
    return shapes


# --- running the checker and reading its output ----------------------------------------------------------------------

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
    plan_bytes: int | None
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
                + (f", plan {self.plan_bytes} bytes" if self.plan_bytes else "") + f" [{self.backend} checker]")
        lines = [head]
        for p in self.plugins:
            state = lambda v: "yes" if v else ("no" if v is False else "-")  # noqa: E731
            lines.append(f"  {p.plugin:28} node={p.node!r:24} registered={state(p.registered):3} "
                         f"imported={state(p.imported)}")
        lines += [f"  problem: {m}" for m in self.problems]
        lines += [f"  warning: {m}" for m in self.warnings]
        return "\n".join(lines)


def _dims_arg(d: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in d)


def check_trt(model_path: str | Path, plugin_dir: str | Path | None = None, *,
              shapes: Mapping[str, Shape3] | None = None, backend: str = "auto", run: bool = False,
              plan_path: str | Path | None = None, verbose: bool = False, cache_dir: str | Path | None = None,
              timeout: float = 900) -> RtxReport:
    """Register the plugins of `plugin_dir`, parse `model_path` with TensorRT-RTX's ONNX parser, check every plugin node
    became its plugin's layer, build an engine for the profile. Returns an RtxReport (`.ok`, `.problems`, ...)."""
    import onnx

    start = time.perf_counter()
    model_path = Path(model_path)
    plugin_dir = Path(plugin_dir) if plugin_dir else model_path.resolve().parent / "trt_plugin"
    if not model_path.is_file():
        raise TpatError(f"model '{model_path}' not found")
    if not (plugin_dir / "meta").is_dir():
        raise TpatError(f"'{plugin_dir}' is not a plugin folder (no meta/)",
                        hint="pass the trt_plugin/ folder written by onnx2plugin or apply")
    which = choose_backend(backend)
    plugins = read_plugins(plugin_dir)
    model = onnx.load(str(model_path), load_external_data=False)
    nodes = plugin_nodes(model, plugins)
    profile = profile_shapes(model, plugins, shapes)

    checks: dict[str, PluginCheck] = {}
    problems: list[str] = []
    warnings: list[str] = []
    libs_to_load: list[Path] = []
    for node, name, _version, _ns in nodes:
        info = plugins.get(name)
        lib = info.library if info else plugin_dir / "lib" / f"{name}.so"
        check = checks.setdefault(node, PluginCheck(name, node, str(lib)))
        if info is None:
            check.registered = False
            check.problems.append(f"node '{node}' uses plugin '{name}', which has no meta/{name}.json in "
                                  f"'{plugin_dir}' (a plugin from another folder?)")
            if lib.is_file():
                libs_to_load.append(lib)
            continue
        if not lib.is_file():
            check.registered = False
            check.problems.append(
                f"plugin library '{lib}' for node '{node}' ({name}) does not exist: it is built only when TensorRT "
                f"headers are found (set {HEADERS_ENV}, preferably to TensorRT 11.x headers for TensorRT-RTX)")
            continue
        if info.header_version and int(info.header_version.split(".")[0]) < 11 and lib not in libs_to_load:
            warnings.append(f"{lib.name} was built against TensorRT {info.header_version} headers; TensorRT-RTX has "
                            "the TensorRT 11 ABI: the plugin loads, imports and builds (IPluginV3 is unchanged) but "
                            "its log messages are lost (ILogger changed in 11) -- rebuild with 11.x headers to see "
                            "them")
        if lib not in libs_to_load:
            libs_to_load.append(lib)

    if which == "cpp":
        libs = find_rtx_libs()
        assert libs is not None
        command = [str(build_checker(find_trt11_headers(), cache_dir)),  # type: ignore[arg-type]
                   "--rtx-lib", str(libs.rtx_lib), "--parser-lib", str(libs.parser_lib)]
    else:
        libs = find_rtx_libs(prefer=LIBS_WHEEL[0])
        if libs is None or libs.source not in (LIBS_WHEEL[0], LIB_DIR_ENV):
            raise TpatError("the TensorRT-RTX bindings need the matching libraries wheel",
                            hint=f"pip install {LIBS_WHEEL[1]}")
        command = [sys.executable, "-m", "tpat.trt.checker.rtx_check"]
    command += ["--model", str(model_path)]
    for lib in libs_to_load:
        command += ["--plugin", str(lib)]
    for node, name, version, ns in nodes:
        command += ["--expect", f"{node}={name}:{version}:{ns}"]
    for inp, (lo, opt, hi) in profile.items():
        command += ["--shape", f"{inp}={_dims_arg(lo)}:{_dims_arg(opt)}:{_dims_arg(hi)}"]
    if plan_path:
        command += ["--plan", str(plan_path)]
    if run:
        command.append("--run")
    if verbose:
        command.append("--verbose")

    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [str(link_dir(libs, cache_dir)), *filter(None, [env.get("LD_LIBRARY_PATH")])])
    if which == "python":
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TpatError(f"the TensorRT-RTX checker did not finish in {timeout:.0f} s",
                        hint="command: " + " ".join(command)) from None
    output = proc.stdout + (("\n" + proc.stderr) if proc.stderr.strip() else "")
    report = _interpret(proc.stdout, proc.stderr, proc.returncode, checks, plugins, nodes)
    return RtxReport(str(model_path), which, report["status"], report["exit_code"], report["plan_bytes"],
                     report["build_seconds"], list(checks.values()), problems + report["problems"],
                     warnings + report["warnings"], command, output, time.perf_counter() - start)


def _interpret(stdout: str, stderr: str, returncode: int, checks: dict[str, PluginCheck],
               plugins: Mapping[str, PluginInfo], nodes) -> dict:
    """Turn the checker's lines into per-plugin states and messages that name the node."""
    problems: list[str] = []
    warnings: list[str] = []
    creators: list[dict] = []
    lib_to_checks: dict[str, list[PluginCheck]] = {}
    for c in checks.values():
        lib_to_checks.setdefault(c.library, []).append(c)
    logs: dict[str, list[str]] = {}
    plan_bytes = build_seconds = None
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
                plan_bytes = int(f.get("plan_bytes", 0))
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
    return {"status": status, "exit_code": exit_code, "plan_bytes": plan_bytes, "build_seconds": build_seconds,
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
