"""Header matrix for REAL generated plugins: ScatterND (workspace) and LayerNormalization (baked-in constants).

The plugin .cu (our template's output) is compiled with -Wall -Wextra -Werror against every TensorRT header set this
machine has (.trt/*/include, TENSORRT_INCLUDE_DIR / kernel-lens); the kernels .cu (TVM's code, which cannot be held to
-Werror) is compiled once with the build stage's own flags; both are linked with --no-undefined (nothing from
libnvinfer) and the library must export exactly the plugin entry points and the kernels C ABI.

Plugins come from TPAT_PREBUILT_DIR (tests/gpu/prebuild.py) when set, else are generated here (needs TVM).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import harness_cases as hc
import op_models
import plugin_build as pb
from tpat.stages import build
from tpat.trt.headers import HOW_TO_GET

OPS = ["ScatterND", "LayerNormalization"]
HEADER_SETS = pb.header_sets()
ARCH = "sm_90"

pytestmark = [pytest.mark.skipif(pb.nvcc_path() is None and hc.find_nvcc() is None, reason="nvcc not found"),
              pytest.mark.skipif(not HEADER_SETS, reason=f"no TensorRT headers (.trt/*/include, or {HOW_TO_GET})")]


def _compile_only(flags: list[str]) -> list[str]:
    """The build stage's flags minus the link-time ones (-shared, -cudart, -Xlinker ...)."""
    out, skip = [], False
    for f in flags:
        if skip:
            skip = False
            continue
        if f in ("-Xlinker", "-cudart"):
            skip = True
            continue
        if f != "-shared":
            out.append(f)
    return out


def _nvcc() -> str:
    return pb.nvcc_path() or hc.find_nvcc()


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, hc.PrebuiltPlugin]:
    env = os.environ.get(hc.PREBUILT_ENV)
    if env and all((Path(env) / op / "trt_plugin" / "src").is_dir() for op in OPS):
        root = Path(env)
    elif importlib.util.find_spec("tvm") is not None:
        root = tmp_path_factory.mktemp("real")
        hc.prebuild(root, {op: op_models.CORE_OPS[op] for op in OPS}, HEADER_SETS[sorted(HEADER_SETS)[-1]])
    else:
        pytest.skip(f"no TVM here and {hc.PREBUILT_ENV} unset")
    return {op: hc.load_plugin(root / op) for op in OPS}


@pytest.fixture(scope="module")
def builds(sources, tmp_path_factory) -> dict:
    """Every (header set, op) library, compiled in parallel; values are the .so path or the failure text."""
    out = tmp_path_factory.mktemp("matrix")

    def run(args, cwd):
        proc = subprocess.run([_nvcc(), *map(str, args)], cwd=cwd, capture_output=True, text=True)
        text = proc.stdout + proc.stderr
        if proc.returncode != 0 or "warning" in text.lower():
            raise RuntimeError(f"nvcc {' '.join(map(str, args))}\n{text}")

    def kernels(op):
        p = sources[op]
        src = p.plugin_dir / "src"
        obj = out / f"{p.plugin}_kernels.o"
        run([*_compile_only(build.base_flags([ARCH], f"{p.plugin}_kernels")), *build._TVM_DIAG, "-I", src, "-c",
             "-o", obj, src / f"{p.plugin}_kernels.cu"], out)
        return obj

    def plugin(hdr, op, kernels_obj):
        p = sources[op]
        src, work = p.plugin_dir / "src", out / hdr
        work.mkdir(exist_ok=True)
        obj, so = work / f"{p.plugin}.o", work / f"{p.plugin}.so"
        run(["-std=c++17", "-O2", *pb.WARN, "-Xcompiler", "-fPIC,-fvisibility=hidden", f"-arch={ARCH}",
             "-isystem", HEADER_SETS[hdr], "-I", src, "-c", "-o", obj, src / f"{p.plugin}.cu"], work)
        run(["-shared", f"-arch={ARCH}", "-cudart", "shared", "-Xlinker", "--no-undefined", "-o", so, obj,
             kernels_obj], work)
        return so

    results = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        kobjs = {op: pool.submit(kernels, op) for op in OPS}
        futures = {}
        for op in OPS:
            try:
                kobj = kobjs[op].result()
            except RuntimeError as e:
                for hdr in HEADER_SETS:
                    results[(hdr, op)] = f"kernels: {e}"
                continue
            for hdr in HEADER_SETS:
                futures[(hdr, op)] = pool.submit(plugin, hdr, op, kobj)
        for key, fut in futures.items():
            try:
                results[key] = fut.result()
            except RuntimeError as e:
                results[key] = str(e)
    return results


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("hdr", sorted(HEADER_SETS))
def test_real_plugin_compiles_warning_free(builds, sources, hdr, op):
    so = builds[(hdr, op)]
    assert isinstance(so, Path), so
    p = sources[op]
    exported = pb.dynamic_symbols(so, undefined=False)
    assert {"getCreators", "setLoggerFinder"} <= exported
    assert all(s in ("getCreators", "setLoggerFinder") or s.startswith(f"tpat_{p.plugin}_") for s in exported), \
        sorted(exported)
    needed = pb.dynamic_symbols(so, undefined=True)
    assert not [s for s in needed if s.startswith(pb.NVINFER_ONLY)], sorted(needed)
