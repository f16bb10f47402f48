"""Build: nvcc the generated sources into shared libraries, always through argument lists (never a shell).

Two libraries per plugin: `lib<plugin>_kernels.so` (kernels + C ABI, no TensorRT needed: the validator and the
benchmarks load it) and `<plugin>.so` (the IPluginV3 plugin, built when TensorRT headers are available).
Both link with `--no-undefined`, which proves the plugin needs nothing from libnvinfer at load time.
SASS is emitted for every requested arch and PTX for the newest, so newer GPUs can still JIT the plugin.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..arch import parse, sort_archs
from ..errors import BuildError
from ..layout import file_names

log = logging.getLogger(__name__)
# 177: variable declared but never referenced, 550: set but never used -- TVM emits both for CSE'd index vars.
_TVM_DIAG = ["-Xcudafe", "--diag_suppress=177", "-Xcudafe", "--diag_suppress=550"]


@dataclass(frozen=True)
class BuildResult:
    output: Path
    command: list[str]
    seconds: float


def run(p, workdir: Path, upstream) -> dict:
    """The build task: the kernels library always, the IPluginV3 library when TensorRT headers are here. The
    entry's metadata keeps nvcc's flags (without machine paths) and the headers' version, for the plugin's meta."""
    src = Path(upstream.entries["codegen"])
    arch = list(p.arch)
    builds = [build_kernels(src, p.name, arch, workdir)]
    meta: dict = {}
    if upstream.trt_include:
        from ..trt.headers import read_version

        builds.append(build_plugin(src, p.name, arch, workdir, Path(upstream.trt_include)))
        meta["tensorrt_headers"] = ".".join(map(str, read_version(Path(upstream.trt_include))))
    for b in builds:
        log.info("build %s: %s in %.1f s", p.name, b.output.name, b.seconds)
    return {"builds": [{"output": b.output.name, "flags": portable_flags(b.command)} for b in builds], **meta}


def portable_flags(command: list[str]) -> list[str]:
    """nvcc's flags without machine-specific paths (cache folders, the headers' location), for the manifest."""
    flags, args = [], iter(command[1:])
    for arg in args:
        if arg in ("-o", "-I", "-isystem"):
            next(args, None)  # the path that follows
            continue
        flags.append(Path(arg).name if arg.endswith(".cu") else arg)
    return flags


@functools.lru_cache(maxsize=1)
def find_nvcc() -> str:
    nvcc = os.environ.get("NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(nvcc).exists() and not shutil.which(nvcc):
        raise BuildError("nvcc not found", hint="install the CUDA toolkit or set NVCC=/path/to/nvcc")
    return nvcc


@functools.lru_cache(maxsize=1)
def nvcc_version() -> str:
    """For task keys; "absent" without nvcc (planning works anywhere; the build task then says nvcc is missing)."""
    try:
        nvcc = find_nvcc()
    except BuildError:
        return "absent"
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"release ([\d.]+), V([\d.]+)", out)
    return m.group(2) if m else out.strip().splitlines()[-1] if out.strip() else "unknown"


def gencode_flags(arch_list: list[str]) -> list[str]:
    """SASS for each arch, PTX for the newest (sm_90a keeps its 'a': arch-specific features need it)."""
    try:
        ordered = [parse(a) for a in sort_archs(arch_list)]
    except ValueError as exc:
        raise BuildError(str(exc), hint="use the form sm_90, sm_89, sm_90a") from None
    flags = []
    for num, suffix in ordered:
        flags += ["-gencode", f"arch=compute_{num}{suffix},code=sm_{num}{suffix}"]
    num, suffix = ordered[-1]
    flags += ["-gencode", f"arch=compute_{num}{suffix},code=compute_{num}{suffix}"]
    return flags


def base_flags(arch_list: list[str], seed: str) -> list[str]:
    """Reproducible by construction: nvcc's random symbol names come from `seed`, and stripping the static
    symbol table drops the temp file names (tmpxft_<pid>_...) nvcc would otherwise embed. Same inputs, same bytes."""
    return ["-std=c++17", "-O3", "-shared", "-Xcompiler", "-fPIC,-fvisibility=hidden", "-cudart", "shared",
            "-Xlinker", "--no-undefined", "-Xlinker", "--strip-all", f"-frandom-seed={seed}",
            *gencode_flags(arch_list)]


def run_nvcc(args: list[str], output: Path, what: str) -> BuildResult:
    """Run nvcc writing to a temp name beside `output`, then rename: a failed build never leaves a stale .so."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    command = [find_nvcc(), *args, "-o", str(tmp)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        log = (proc.stderr + proc.stdout).splitlines()
        errors = [ln for ln in log if "error" in ln.lower()][:8] or log[-8:]
        raise BuildError(
            f"nvcc failed building {what} (exit {proc.returncode})\n  command: {shlex.join(command)}\n  "
            + "\n  ".join(errors),
            hint="this is a tpat bug if the sources are generated and unedited; please report it with the log",
        )
    os.replace(tmp, output)
    return BuildResult(output, [*command[:-1], str(output)], seconds)


def kernel_sources(src_dir: Path, plugin: str) -> list[str]:
    """`<p>_kernels.cu`, plus `<p>_kernels_v<i>.cu` for each kernel set of a tuned plugin."""
    return [str(src_dir / f"{plugin}_kernels.cu"),
            *sorted(str(p) for p in src_dir.glob(f"{plugin}_kernels_v*.cu"))]


def build_kernels(src_dir: Path, plugin: str, arch_list: list[str], lib_dir: Path) -> BuildResult:
    return run_nvcc([*base_flags(arch_list, f"{plugin}_kernels"), *_TVM_DIAG, "-I", str(src_dir),
                     *kernel_sources(src_dir, plugin)],
                    lib_dir / file_names(plugin)["kernels_library"], f"the kernels of plugin {plugin!r}")


def build_plugin(src_dir: Path, plugin: str, arch_list: list[str], lib_dir: Path, trt_include: Path) -> BuildResult:
    sources = [str(src_dir / f"{plugin}.cu"), *kernel_sources(src_dir, plugin)]
    return run_nvcc([*base_flags(arch_list, plugin), *_TVM_DIAG, "-isystem", str(trt_include), "-I", str(src_dir), *sources],
                    lib_dir / file_names(plugin)["plugin_library"], f"plugin {plugin!r}")
