"""The IPluginV3 wrapper (templates/plugin.{h,cu}.j2) and the libnvinfer-free harness (tests/harness/), with real nvcc.

Plugins are rendered for hand-written contexts; their kernels come from the test fixture
tests/fixtures/addone_kernels.cu.j2 (out = in0 + in1 + 1). One test compiles against every TensorRT header set this
machine has; the others use one set to keep the runtime modest. Without a GPU the harness still runs the whole
build phase (every step before the first CUDA call); the `gpu` test runs everything and checks the numbers.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import plugin_build as pb

pytestmark = pytest.mark.skipif(pb.nvcc_path() is None, reason="nvcc not found")

HEADER_SETS = pb.header_sets()
NO_HEADERS = "no TensorRT headers: extract them to .trt/<tag>/include, set TENSORRT_INCLUDE_DIR, or " \
             "pip install --no-deps kernel-lens==2.0.1"


def _gpu_arch() -> str | None:
    """sm_XY of the first GPU, or None without a usable GPU."""
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return "sm_" + proc.stdout.split()[0].replace(".", "")


GPU_ARCH = _gpu_arch()
ARCH = GPU_ARCH or "sm_90"


def _default_header_set() -> str | None:
    # What the build stage would use (TENSORRT_INCLUDE_DIR / kernel-lens), else the newest extracted set.
    found = [k for k in HEADER_SETS if k.startswith("found-")]
    return (found or sorted(HEADER_SETS))[-1] if HEADER_SETS else None


DEFAULT_SET = _default_header_set()

# --- hand-written contexts ------------------------------------------------------------------------------------------
T, D = pb.tensor, pb.dim
BATCH = {"dim": 0}
SEQ = {"dim": 1}

# fp32, dynamic batch at axis 0, static inner dims.
ADD_F32 = pb.context("AddOne", "addone_f32",
                     [T("x", "float32", [BATCH, 3, 8]), T("y", "float32", [BATCH, 3, 8])],
                     [T("z", "float32", [BATCH, 3, 8])],
                     [D("batch", 1, 4, 16, 0, 0)])
# fp32, no static dims at all; the output is flattened, so its shape is a compound expression (batch * seq).
ADD_FLAT = pb.context("AddOneFlat", "addone_flat",
                      [T("x", "float32", [BATCH, SEQ]), T("y", "float32", [BATCH, SEQ])],
                      [T("z", "float32", [{"op": "mul", "args": [BATCH, SEQ]}])],
                      [D("batch", 1, 2, 8, 0, 0), D("seq", 1, 16, 64, 0, 1)])
# fp16 + int64 inputs, fully static (no dynamic dims), in a plugin namespace.
ADD_MIXED = pb.context("AddOneMixed", "addone_mixed",
                       [T("x", "float16", [2, 3, 8]), T("y", "int64", [2, 3, 8])],
                       [T("z", "float16", [2, 3, 8])],
                       [], namespace="tpat_test")


class Builds:
    """Builds each artefact once per session (nvcc is the slow part of these tests)."""

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict = {}

    def _once(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def plugin(self, ctx: dict, hdr: str) -> Path:
        def make():
            out = self.root / hdr / ctx["plugin"]["ident"]
            sources = pb.render_sources(ctx, out)
            return pb.build_plugin(sources, HEADER_SETS[hdr], out / f"lib{ctx['plugin']['ident']}.so", ARCH)
        return self._once(("plugin", ctx["plugin"]["ident"], hdr), make)

    def library(self, ctxs: list[dict], hdr: str) -> Path:
        """Several plugins in one .so, entry points from plugin_library.cu.j2."""
        def make():
            out = self.root / hdr / "library"
            sources = []
            for ctx in ctxs:
                sources += pb.render_sources(ctx, out)
            sources.append(pb.render_library([c["plugin"]["ident"] for c in ctxs], out))
            return pb.build_plugin(sources, HEADER_SETS[hdr], out / "libtpat_plugins.so", ARCH,
                                   defines=["TPAT_NO_ENTRY_POINTS"])
        return self._once(("library", tuple(c["plugin"]["ident"] for c in ctxs), hdr), make)

    def harness(self, hdr: str) -> Path:
        return self._once(("harness", hdr), lambda: pb.build_harness(HEADER_SETS[hdr], self.root / hdr / "trt_harness"))


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> Builds:
    return Builds(tmp_path_factory.mktemp("plugins"))


def write_case(path: Path, ctx: dict, shapes: dict, files: bool = True, bad: str | None = None) -> Path:
    """A harness case file; `shapes` maps input index -> (min, opt, max, run) shape strings."""
    lines = [f"plugin {ctx['plugin']['name']}", f"version {ctx['plugin']['version']}", "layer test_node"]
    if ctx["plugin"]["namespace"]:
        lines.append(f"namespace {ctx['plugin']['namespace']}")
    for i, t in enumerate(ctx["inputs"]):
        lo, opt, hi, run = shapes[i]
        lines.append(f"input {t['dtype']['name']} min={lo} opt={opt} max={hi} run={run}"
                     + (f" file=in{i}.bin" if files else ""))
    for o, t in enumerate(ctx["outputs"]):
        lines.append(f"output {t['dtype']['name']}" + (f" file=out{o}.bin" if files else ""))
    if bad:
        lines.append(f"bad {bad}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_harness(harness: Path, so: Path, case: Path, reject: bool = False) -> subprocess.CompletedProcess:
    args = [str(harness), str(so), str(case)] + (["--reject"] if reject else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


F32_SHAPES = {0: ("1x3x8", "4x3x8", "16x3x8", "4x3x8"), 1: ("1x3x8", "4x3x8", "16x3x8", "4x3x8")}
BUILD_PHASE = ["creator AddOne 1 ''", "datatypes ok",
               "output 0 shape min=1x3x8 opt=4x3x8 max=16x3x8 run=4x3x8 bad=17x3x8",
               "formats ok 3 positions", "workspace 1536", "reject configurePlugin ok"]


# --- tests ----------------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not HEADER_SETS, reason=NO_HEADERS)
@pytest.mark.parametrize("hdr", sorted(HEADER_SETS))
def test_plugin_and_harness_build_against_header_set(builds, hdr, tmp_path):
    so = builds.plugin(ADD_F32, hdr)  # -Wall -Wextra -Werror, and any nvcc warning fails the build helper
    exported = pb.dynamic_symbols(so, undefined=False)
    assert {"getCreators", "setLoggerFinder"} <= exported
    # Hidden visibility: only the entry points and the kernels C ABI are visible, no C++ internals.
    assert all(s in ("getCreators", "setLoggerFinder") or s.startswith("tpat_addone_f32_") for s in exported), exported
    needed = pb.dynamic_symbols(so, undefined=True)
    assert not [s for s in needed if s.startswith(pb.NVINFER_ONLY)], needed

    # The harness built against the same headers drives the whole build phase; without a GPU it stops at the first
    # CUDA call, with a GPU the run completes.
    harness = builds.harness(hdr)
    case = write_case(tmp_path / "case.txt", ADD_F32, F32_SHAPES, files=False, bad="0 0 17")
    proc = run_harness(harness, so, case, reject=True)
    lines = proc.stdout.splitlines()
    assert lines[:len(BUILD_PHASE)] == BUILD_PHASE, proc.stdout + proc.stderr
    if GPU_ARCH is None:
        assert lines[-1].startswith("FAIL: cudaStreamCreate:"), proc.stdout
    else:
        assert proc.returncode == 0 and lines[-1] == "PASS", proc.stdout + proc.stderr
    # The plugin logged its refusal through the logger the harness handed to setLoggerFinder.
    assert "[plugin ERROR] tpat plugin 'AddOne' (layer 'test_node'): input 0 ('x') axis 0" in proc.stderr


@pytest.mark.skipif(DEFAULT_SET is None, reason=NO_HEADERS)
def test_several_plugins_in_one_library(builds, tmp_path):
    """All-dynamic + compound output shape, and fp16/int64 without dynamic dims, linked into one .so."""
    so = builds.library([ADD_FLAT, ADD_MIXED], DEFAULT_SET)
    exported = pb.dynamic_symbols(so, undefined=False)
    assert {"getCreators", "setLoggerFinder"} <= exported
    assert not [s for s in pb.dynamic_symbols(so, undefined=True) if s.startswith(pb.NVINFER_ONLY)]

    harness = builds.harness(DEFAULT_SET)
    flat = write_case(tmp_path / "flat.txt", ADD_FLAT, {i: ("1x1", "2x16", "8x64", "3x5") for i in (0, 1)},
                      files=False, bad="0 1 65")
    proc = run_harness(harness, so, flat, reject=True)
    assert "output 0 shape min=1 opt=32 max=512 run=15 bad=195" in proc.stdout, proc.stdout + proc.stderr
    assert "reject configurePlugin ok" in proc.stdout, proc.stdout + proc.stderr
    mixed = write_case(tmp_path / "mixed.txt", ADD_MIXED, {i: ("2x3x8",) * 4 for i in (0, 1)}, files=False)
    proc = run_harness(harness, so, mixed)
    assert "creator AddOneMixed 1 'tpat_test'" in proc.stdout and "workspace 256" in proc.stdout, \
        proc.stdout + proc.stderr
    expected_end = "PASS" if GPU_ARCH else "FAIL: cudaStreamCreate:"
    assert proc.stdout.splitlines()[-1].startswith(expected_end), proc.stdout + proc.stderr


@pytest.mark.skipif(DEFAULT_SET is None, reason=NO_HEADERS)
def test_static_registration_compiles(tmp_path):
    """-DTPAT_STATIC_REGISTRATION: REGISTER_TENSORRT_PLUGIN, so the object needs libnvinfer's getPluginRegistry."""
    sources = pb.render_sources(ADD_F32, tmp_path)
    obj = tmp_path / "plugin.o"
    pb.nvcc(["-std=c++17", *pb.WARN, "-Xcompiler", "-fPIC", "-isystem", HEADER_SETS[DEFAULT_SET],
             "-DTPAT_STATIC_REGISTRATION", "-c", "-o", obj, sources[0]], cwd=tmp_path)
    text = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    assert "getPluginRegistry" in text and "getLogger" in text


@pytest.mark.gpu
@pytest.mark.skipif(GPU_ARCH is None, reason="no usable NVIDIA GPU (nvidia-smi failed)")
@pytest.mark.skipif(DEFAULT_SET is None, reason=NO_HEADERS)
@pytest.mark.parametrize("variant", ["f32", "flat", "mixed"])
def test_harness_runs_plugin_on_gpu(builds, tmp_path, variant):
    rng = np.random.default_rng(0)
    if variant == "f32":
        ctx, so = ADD_F32, builds.plugin(ADD_F32, DEFAULT_SET)
        run_shapes = [(5, 3, 8)] * 2
        shapes = {i: ("1x3x8", "4x3x8", "16x3x8", "5x3x8") for i in (0, 1)}
        x, y = (rng.standard_normal(s).astype(np.float32) for s in run_shapes)
        expected, bad = (x + y + 1).reshape(5, 3, 8), "0 0 17"
    elif variant == "flat":
        ctx, so = ADD_FLAT, builds.library([ADD_FLAT, ADD_MIXED], DEFAULT_SET)
        shapes = {i: ("1x1", "2x16", "8x64", "7x33") for i in (0, 1)}
        x, y = (rng.standard_normal((7, 33)).astype(np.float32) for _ in range(2))
        expected, bad = (x + y + 1).reshape(-1), "0 0 9"
    else:
        ctx, so = ADD_MIXED, builds.library([ADD_FLAT, ADD_MIXED], DEFAULT_SET)
        shapes = {i: ("2x3x8",) * 4 for i in (0, 1)}
        x = rng.standard_normal((2, 3, 8)).astype(np.float16)
        y = rng.integers(-50, 50, (2, 3, 8)).astype(np.int64)
        expected, bad = (x.astype(np.float32) + y.astype(np.float32) + 1).astype(np.float16), None
    x.tofile(tmp_path / "in0.bin")
    y.tofile(tmp_path / "in1.bin")
    case = write_case(tmp_path / "case.txt", ctx, shapes, bad=bad)
    proc = run_harness(builds.harness(DEFAULT_SET), so, case, reject=bad is not None)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "PASS", proc.stdout + proc.stderr
    got = np.fromfile(tmp_path / "out0.bin", dtype=expected.dtype).reshape(expected.shape)
    np.testing.assert_allclose(got.astype(np.float32), expected.astype(np.float32), rtol=1e-3, atol=1e-3)
