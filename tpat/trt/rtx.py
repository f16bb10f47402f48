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

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import TpatError
from ..layout import PluginLayout
from .check_report import PluginCheck, RtxReport, interpret
from .checker_build import build_checker, link_dir
from .headers import ENV_VAR as HEADERS_ENV
from .plugin_info import Shape3, plugin_nodes, profile_shapes, read_plugins
from .rtx_locate import LIB_DIR_ENV, LIBS_WHEEL, choose_backend, find_rtx_libs, find_trt11_headers


def _dims_arg(d: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in d)


def check_trt(model_path: str | Path, plugin_dir: str | Path | None = None, *,
              shapes: Mapping[str, Shape3] | None = None, backend: str = "auto", run: bool = False,
              engine_path: str | Path | None = None, verbose: bool = False, cache_dir: str | Path | None = None,
              timeout: float = 900) -> RtxReport:
    """Register the plugins of `plugin_dir`, parse `model_path` with TensorRT-RTX's ONNX parser, check every plugin node
    became its plugin's layer, build an engine for the profile. Returns an RtxReport (`.ok`, `.problems`, ...)."""
    import onnx

    start = time.perf_counter()
    model_path = Path(model_path)
    plugin_dir = Path(plugin_dir) if plugin_dir else model_path.resolve().parent / "trt_plugin"
    if not model_path.is_file():
        raise TpatError(f"model '{model_path}' not found")
    if not PluginLayout(plugin_dir).meta.is_dir():
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
        lib = info.library if info else PluginLayout(plugin_dir).path(name, "plugin_library")
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
    if engine_path:
        command += ["--save-engine", str(engine_path)]
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
    report = interpret(proc.stdout, proc.stderr, proc.returncode, checks, plugins, nodes)
    return RtxReport(str(model_path), which, report["status"], report["exit_code"], report["engine_bytes"],
                     report["build_seconds"], list(checks.values()), problems + report["problems"],
                     warnings + report["warnings"], command, output, time.perf_counter() - start)
