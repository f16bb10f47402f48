"""Drive REAL generated plugins through tests/harness/trt_harness and compare with onnxruntime.

Works from a plugin folder alone (``<op>/trt_plugin/{lib,meta}``), so plugins generated on a CPU machine (which has TVM)
are checked on a GPU machine (which has neither TVM nor TensorRT). Module-level imports stay within numpy, onnx and the
TVM-free parts of tpat, because the GPU machine has nothing else.

Layout of a prebuilt folder (what ``tests/gpu/prebuild.py`` writes, and what ``TPAT_PREBUILT_DIR`` points at)::

    <dir>/prebuilt.json                      {"trt_version": "10.16.0", "trt_include": ".trt/v10.16/include", ...}
    <dir>/<Op>/model.onnx                    the single-op model (tests/op_models.py)
    <dir>/<Op>/model.tpat.onnx               the rewritten model
    <dir>/<Op>/trt_plugin/{src,lib,meta}/    what onnx2plugin wrote
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import onnx

from tpat.ir.signature import Signature

ROOT = Path(__file__).resolve().parent.parent
HARNESS_SRC = ROOT / "tests" / "harness" / "trt_harness.cpp"
PREBUILT_ENV = "TPAT_PREBUILT_DIR"
MANIFEST = "prebuilt.json"
BATCHES = (1, 7, 128, 256)
REJECT_BATCH = 7  # the run that also gets --reject (max + 1 refused)
HARNESS_FLAGS = ["-std=c++17", "-O2", "-Xcompiler", "-Wall,-Wextra,-Werror", "-cudart", "shared"]


# --- generating (CPU machine, needs TVM) -----------------------------------------------------------------------------
def prebuild(out: Path, models: Mapping[str, Callable[[], onnx.ModelProto]], include: Path | None = None,
             arch: Sequence[str] = ("sm_90",)) -> dict:
    """onnx2plugin (dynamic batch 1..128..256, validate="never") for each model into ``out/<key>/``.

    `include` is the TensorRT include folder the IPluginV3 libraries are built against (TENSORRT_INCLUDE_DIR for the
    duration of the call); None keeps whatever find_headers() finds. Writes and returns ``out/prebuilt.json``.
    """
    import tpat
    from tpat.trt.headers import ENV_VAR, find_headers

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get(ENV_VAR)
    if include is not None:
        os.environ[ENV_VAR] = str(Path(include).resolve())
    try:
        headers = find_headers()
        if headers is None:
            raise RuntimeError("no TensorRT headers: pass an include folder (e.g. .trt/v10.16/include)")
        ops = []
        for key, make in models.items():
            model = make()
            work = out / key
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            onnx.save(model, work / "model.onnx")
            tpat.onnx2plugin(work / "model.onnx", work / "model.tpat.onnx", node_types=[model.graph.node[0].op_type],
                             dynamic_bs=True, min_bs=1, opt_bs=128, max_bs=256, arch=tuple(arch),
                             validate="never")
            ops.append(key)
    finally:
        if include is not None:
            if saved is None:
                os.environ.pop(ENV_VAR, None)
            else:
                os.environ[ENV_VAR] = saved
    inc = headers.include_dir.resolve()
    manifest = {"trt_version": headers.version_str,
                "trt_include": str(inc.relative_to(ROOT)) if inc.is_relative_to(ROOT) else str(inc),
                "arch": list(arch), "ops": ops}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- reading a prebuilt folder ---------------------------------------------------------------------------------------
@dataclass
class PrebuiltPlugin:
    op: str
    plugin_dir: Path
    plugin: str
    meta: dict
    subgraph: onnx.ModelProto
    signature: Signature

    @property
    def library(self) -> Path:
        return self.plugin_dir / "lib" / f"{self.plugin}.so"

    @property
    def layer(self) -> str:
        """The ONNX node name (meta "nodes" of the workflow, or "node" of the older engine)."""
        nodes = self.meta.get("nodes") or [{"node": self.meta.get("node", {}).get("name")}]
        name = nodes[0].get("node") or "harness_layer"
        return "".join("_" if c.isspace() or c == "#" else c for c in name)

    @property
    def version(self) -> str:
        return self.meta.get("plugin_version") or "1"

    @property
    def namespace(self) -> str:
        return self.meta.get("plugin_namespace") or ""

    @property
    def deterministic(self) -> bool:
        """False for kernels with float atomics: the harness then checks the clone against onnxruntime too,
        instead of bit for bit against the first run."""
        return self.meta.get("deterministic", True)


def load_plugin(op_dir: Path) -> PrebuiltPlugin:
    plugin_dir = Path(op_dir) / "trt_plugin"
    metas = sorted((plugin_dir / "meta").glob("*.json"))
    if len(metas) != 1:
        raise FileNotFoundError(f"expected one plugin in {plugin_dir / 'meta'}, found {[m.name for m in metas]}")
    meta = json.loads(metas[0].read_text())
    plugin = meta["plugin"]
    subgraph = onnx.load(str(plugin_dir / "meta" / f"{plugin}.onnx"))
    return PrebuiltPlugin(Path(op_dir).name, plugin_dir, plugin, meta, subgraph,
                          Signature.from_json(meta["signature"]))


def read_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def header_sets() -> dict[str, Path]:
    """Extracted TensorRT include folders in .trt/<tag>/include, by tag."""
    return {inc.parent.name: inc for inc in sorted((ROOT / ".trt").glob("*/include"))
            if (inc / "NvInferRuntime.h").is_file()}


def include_for(root: Path | None) -> Path | None:
    """The TensorRT headers to build the harness against: the ones the plugins in `root` were built with, else one of
    the same major (IPluginV3 and ILogger are ABI-stable within a major, not across 10 -> 11), else find_headers()'s.
    With `root` None: the newest extracted set, else find_headers()'s."""
    from tpat.trt.headers import find_headers, read_version

    manifest = read_manifest(root) if root is not None else {}
    recorded = manifest.get("trt_include")
    if recorded:
        path = Path(recorded) if Path(recorded).is_absolute() else ROOT / recorded
        if (path / "NvInferRuntime.h").is_file():
            return path
    major = int(manifest["trt_version"].split(".")[0]) if manifest.get("trt_version") else None
    for inc in reversed(list(header_sets().values())):
        if major is None or read_version(inc)[0] == major:
            return inc
    found = find_headers()
    if found is not None and (major is None or found.version[0] == major):
        return found.include_dir
    return None


# --- the harness -----------------------------------------------------------------------------------------------------
def find_nvcc() -> str | None:
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def build_harness(include: Path, out: Path) -> Path:
    nvcc = find_nvcc()
    if nvcc is None:
        raise RuntimeError("nvcc not found")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [nvcc, *HARNESS_FLAGS, "-isystem", str(include), "-o", str(out), str(HARNESS_SRC), "-ldl"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or "warning" in (proc.stdout + proc.stderr).lower():
        raise RuntimeError(f"building the harness failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return out


def run_points(sig: Signature, batches: Sequence[int] = BATCHES) -> list[list[int]]:
    """Dim settings for the runs: every dim set to each batch value, clamped into its range, without repeats."""
    if not sig.dims:
        return [[]]
    points: list[list[int]] = []
    for b in batches:
        dims = [min(max(b, d.min), d.max) for d in sig.dims]
        if dims not in points:
            points.append(dims)
    return points


def _shape_str(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def _np_dtype(name: str) -> np.dtype:
    return np.dtype("uint16" if name == "bfloat16" else name)  # bfloat16 files hold bit patterns


@dataclass
class RunResult:
    dims: list[int]
    reject: bool
    returncode: int
    stdout: str
    stderr: str
    errors: list[tuple[float, float, bool]] = field(default_factory=list)  # per output: abs, rel, ok
    outputs: list[np.ndarray] = field(default_factory=list)  # what the plugin wrote (first run's files)

    @property
    def harness_passed(self) -> bool:
        lines = self.stdout.strip().splitlines()
        return self.returncode == 0 and bool(lines) and lines[-1] == "PASS"

    @property
    def passed(self) -> bool:
        return self.harness_passed and bool(self.errors) and all(ok for _, _, ok in self.errors)

    @property
    def max_abs_err(self) -> float:
        return max((a for a, _, _ in self.errors), default=float("nan"))

    def summary(self, op: str) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        extra = " +reject" if self.reject else ""
        return f"{op:20s} dims={self.dims}{extra}: {verdict} max_abs_err={self.max_abs_err:.3g}"


def write_case(work: Path, p: PrebuiltPlugin, dims: Sequence[int], seed: int, reject: bool,
               inputs: Sequence[np.ndarray] | None = None) -> tuple[Path, list]:
    """Case file + raw input files for one run (`inputs` given, or generated from `seed`); returns the case path and
    the input arrays."""
    from tpat.graph.op_inputs import make_inputs
    from tpat.stages.validate import to_device_dtype

    sig = p.signature
    work.mkdir(parents=True, exist_ok=True)
    points = sig.points()
    shapes = [t.concrete_shape(dims) for t in sig.inputs]
    if inputs is None:
        inputs = make_inputs(p.subgraph, shapes, [t.dtype.name for t in sig.inputs], seed)
    lines = [f"plugin {p.plugin}", f"version {p.version}", f"layer {p.layer}"]
    if p.namespace:
        lines.append(f"namespace {p.namespace}")
    if not p.deterministic:
        lines.append("nondeterministic")
    inputs = [to_device_dtype(a, t.dtype.name) for a, t in zip(inputs, sig.inputs)]  # bf16 as its bit patterns
    for i, (t, arr) in enumerate(zip(sig.inputs, inputs)):
        arr.tofile(work / f"in{i}.bin")
        lo, opt, hi = (_shape_str(t.concrete_shape(points[k])) for k in ("min", "opt", "max")) if sig.dims else \
            (_shape_str(arr.shape),) * 3
        lines.append(f"input {t.dtype.name} min={lo} opt={opt} max={hi} run={_shape_str(arr.shape)} file=in{i}.bin")
    for o, t in enumerate(sig.outputs):
        (work / f"out{o}.bin").unlink(missing_ok=True)
        (work / f"out{o}.bin.clone").unlink(missing_ok=True)
        lines.append(f"output {t.dtype.name} file=out{o}.bin")
    if reject:
        d = sig.dims[0]
        lines.append(f"bad {d.input} {d.axis} {d.max + 1}")
    case = work / "case.txt"
    case.write_text("\n".join(lines) + "\n")
    return case, inputs


def run_case(harness: Path, p: PrebuiltPlugin, dims: Sequence[int], work: Path, seed: int = 0,
             reject: bool = False, timeout: float = 120, inputs: Sequence[np.ndarray] | None = None) -> RunResult:
    """One harness run at `dims` (on `inputs`, or inputs from `seed`); outputs compared with onnxruntime on
    meta/<plugin>.onnx, and kept in the result (`outputs`)."""
    from tpat.stages.validate import (TOLERANCES, compare, from_device_dtype, reference_for, reference_outputs,
                                      sum_tolerances, summed_terms)

    reject = reject and bool(p.signature.dims)
    case, inputs = write_case(work, p, dims, seed, reject, inputs)
    args = [str(harness), str(p.library), str(case)] + (["--reject"] if reject else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    result = RunResult(list(dims), reject, proc.returncode, proc.stdout, proc.stderr)
    if not result.harness_passed:
        return result
    ref_path = p.plugin_dir / "meta" / f"{p.plugin}.ref.onnx"
    ref_model = reference_for(p.subgraph, p.signature, onnx.load(str(ref_path)) if ref_path.is_file() else None)
    refs = reference_outputs(ref_model, p.signature, inputs)
    tol = sum_tolerances(dict(TOLERANCES), summed_terms(p.subgraph, {i.name: a.shape for i, a in
                                                                     zip(p.subgraph.graph.input, inputs)}))
    files = [("out{}.bin", p.signature.outputs, refs)]
    if not p.deterministic:
        files.append(("out{}.bin.clone", p.signature.outputs, refs))
    for pattern, outputs, references in files:
        for o, (t, ref) in enumerate(zip(outputs, references)):
            path = work / pattern.format(o)
            if not path.is_file():
                result.errors.append((float("inf"), float("inf"), False))
                continue
            got = from_device_dtype(np.fromfile(path, dtype=_np_dtype(t.dtype.name)), t.dtype.name)
            shape = t.concrete_shape(dims)
            if got.size != int(np.prod(shape)):
                result.errors.append((float("inf"), float("inf"), False))
                continue
            if pattern == files[0][0]:
                result.outputs.append(got.reshape(shape))
            result.errors.append(compare(got.reshape(shape), np.asarray(ref), t.dtype.name, tol))
    return result
