"""Test helpers: render a plugin for a hand-written context and build it, the harness and the fixture kernels with nvcc.

The kernels side comes from ``tests/fixtures/addone_kernels.cu.j2`` (a hand-written implementation of the C ABI), so
these tests exercise only the TensorRT wrapper (``templates/plugin.{h,cu}.j2``) and ``tests/harness/``.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
from pathlib import Path

import jinja2

from tpat import __version__
from tpat.ir.dtypes import dtype_from_name
from tpat.render import TEMPLATES_DIR, cpp_environment
from tpat.trt.headers import find_headers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
HARNESS = ROOT / "tests" / "harness" / "trt_harness.cpp"

# Same flags as the build stage: TRT headers as -isystem (their own warnings are not ours), hidden visibility so only
# the explicitly exported entry points show, --no-undefined to prove nothing comes from libnvinfer.
WARN = ["-Xcompiler", "-Wall,-Wextra,-Werror"]
PLUGIN_FLAGS = ["-std=c++17", "-O2", *WARN, "-Xcompiler", "-fPIC,-fvisibility=hidden", "-shared", "-cudart", "shared",
                "-Xlinker", "--no-undefined"]
HARNESS_FLAGS = ["-std=c++17", "-O2", *WARN, "-cudart", "shared"]
# Symbols only libnvinfer / libnvinfer_plugin define (shared notes, B2): a plugin .so must not need any.
NVINFER_ONLY = ("getPluginRegistry", "getLogger", "getInferLib", "createInfer", "getBuilderPluginRegistry",
                "setInternalLibraryPath", "initLibNvInferPlugins", "createNvOnnxParser")


def nvcc_path() -> str | None:
    return shutil.which("nvcc") or (Path("/usr/local/bin/nvcc").is_file() and "/usr/local/bin/nvcc") or None


def header_sets() -> dict[str, Path]:
    """Every TensorRT include dir this machine has: the extracted ``.trt/*/include`` ones and find_headers()'s."""
    found: dict[str, Path] = {}
    for inc in sorted((ROOT / ".trt").glob("*/include")):
        if (inc / "NvInferRuntime.h").is_file():
            found[inc.parent.name] = inc
    headers = find_headers()
    if headers is not None and headers.include_dir.resolve() not in {p.resolve() for p in found.values()}:
        found[f"found-{headers.version_str}"] = headers.include_dir
    return found


def tensor(name: str, dtype: str, shape: list) -> dict:
    return {"name": name, "dtype": dataclasses.asdict(dtype_from_name(dtype)), "shape": shape}


def dim(name: str, lo: int, opt: int, hi: int, inp: int, axis: int) -> dict:
    return {"name": name, "label": name, "min": lo, "opt": opt, "max": hi, "input": inp, "axis": axis}


def context(name: str, ident: str, inputs: list, outputs: list, dims: list, namespace: str = "") -> dict:
    """The render context codegen passes to plugin.h.j2 / plugin.cu.j2 / kernels.h.j2."""
    return {
        "tpat_version": __version__,
        "plugin": {"name": name, "ident": ident, "version": "1", "namespace": namespace},
        "inputs": inputs,
        "outputs": outputs,
        "dims": dims,
        "constants": [],
        "files": {"kernels_header": f"{ident}_kernels.h", "plugin_header": f"{ident}.h"},
    }


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # tpat.render's environment (filters, guard), plus the fixtures folder for the hand-written kernels template.
    return cpp_environment(jinja2.FileSystemLoader([str(TEMPLATES_DIR), str(FIXTURES)]))


def render_sources(ctx: dict, out: Path) -> list[Path]:
    """Writes kernels header, plugin header, plugin .cu and fixture kernels .cu; returns the two .cu files."""
    out.mkdir(parents=True, exist_ok=True)
    ident = ctx["plugin"]["ident"]
    files = {
        ctx["files"]["kernels_header"]: "kernels.h.j2",
        ctx["files"]["plugin_header"]: "plugin.h.j2",
        f"{ident}.cu": "plugin.cu.j2",
        f"{ident}_kernels.cu": "addone_kernels.cu.j2",
    }
    for filename, template in files.items():
        (out / filename).write_text(_env().get_template(template).render(**ctx))
    return [out / f"{ident}.cu", out / f"{ident}_kernels.cu"]


def render_library(idents: list[str], out: Path) -> Path:
    path = out / "plugin_library.cu"
    plugins = [{"ident": i, "plugin_header": f"{i}.h"} for i in idents]
    path.write_text(_env().get_template("plugin_library.cu.j2").render(tpat_version=__version__, plugins=plugins))
    return path


def nvcc(args: list, cwd: Path) -> str:
    """Runs nvcc; a failure or any warning text fails the calling test with nvcc's output."""
    import pytest

    proc = subprocess.run([nvcc_path(), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"nvcc failed ({proc.returncode}):\n{output}")
    if "warning" in output.lower():
        pytest.fail(f"nvcc printed warnings:\n{output}")
    return output


def build_plugin(sources: list[Path], include: Path, out: Path, arch: str = "sm_90", defines=()) -> Path:
    nvcc([*PLUGIN_FLAGS, f"-arch={arch}", "-isystem", include, "-I", sources[0].parent,
          *[f"-D{d}" for d in defines], "-o", out, *sources], cwd=out.parent)
    return out


def build_harness(include: Path, out: Path) -> Path:
    nvcc([*HARNESS_FLAGS, "-isystem", include, "-o", out, HARNESS, "-ldl"], cwd=out.parent)
    return out


def dynamic_symbols(so: Path, undefined: bool) -> set[str]:
    flag = "--undefined-only" if undefined else "--defined-only"
    text = subprocess.run(["nm", "-D", flag, str(so)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in text.splitlines() if line.strip()}
