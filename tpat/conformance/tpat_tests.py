"""TPAT's own tests (`tests/test_tpat.py` of Tencent/TPAT) run with only their TensorRT step replaced: each call
they make to TPAT's plugin generator is recorded, with its arguments, its model and its inputs.

The file is TPAT's (fetched, never part of tpat): it builds each model (onnx.helper, or TensorFlow 1 + tf2onnx),
computes a reference, calls TPAT's `onnx2plugin(input, output, node_names=..., dynamic_bs=..., ...)`, then builds
a TensorRT engine with pycuda and compares. Its code is executed here as written, except:

- TPAT's package (`from python import *`) is replaced by a recorder with TPAT's `onnx2plugin` signature: it keeps
  the model file TPAT just wrote and the arguments TPAT passed (tpat.onnx2plugin converts them later, in worker
  processes: `tpat_upstream`, where one crash costs one call);
- the TensorRT step (everything after the `onnx2plugin` call in a function that makes it: loading the plugin
  libraries, engine build, inference, comparison) becomes `return <hook>(locals())`, which keeps the inputs TPAT
  feeds the engine; the module-level `import tensorrt`, `import pycuda.driver` and what uses them are removed;
- the environment TPAT's tests were written for (TF 1.15, onnx 1.10) is rebuilt from today's packages
  (`tpat_env`): `tf` is `tensorflow.compat.v1` (absent, the TF-built tests fail saying so), onnx's defaults and
  module names are onnx 1.10's.

Tests run in definition order (pytest's), after the module's own `np.random.seed(0)`, in a scratch tree laid out as
TPAT's (`tests/` beside `python/model/`: the file chdirs to `../python/`). Needs numpy and onnx (onnxruntime for
TPAT's references, TensorFlow and tf2onnx for its TF tests), never TVM: run it in whichever interpreter has TF
(`tpat_upstream --tf-python`).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
import traceback
import types
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from onnx import numpy_helper

HOOK = "__tpat_harness_trt_step__"
TF_NAME = "__tpat_harness_tensorflow__"
TRT_MODULES = ("tensorrt", "pycuda")
CALLS = "calls"
CALL_FILE = "call.json"
TESTS_FILE = "tests.json"


def transform(tree: ast.Module, tf_available: bool) -> tuple[ast.Module, list[str]]:
    """TPAT's module with its TensorRT step cut out (see the module doc); also the functions whose step was cut."""
    dropped = set()
    body = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and _imports_trt(stmt):
            dropped |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
            continue
        if isinstance(stmt, ast.Import) and [a.name for a in stmt.names] == ["tensorflow"]:
            stmt = ast.Assign([ast.Name(stmt.names[0].asname or "tensorflow", ast.Store())],
                              ast.Name(TF_NAME, ast.Load()))
            if not tf_available:
                dropped.add("tf")
            body.append(stmt)
            continue
        if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and _names(stmt) & dropped:
            dropped |= _names(stmt)  # what it defined goes too (CONFIG, then CONFIG.gpu_options...)
            continue  # module-level use of TensorRT/pycuda (a logger) or, without TF, TF's session settings
        body.append(stmt)
    cut = []
    for node in ast.walk(ast.Module(body, [])):
        if isinstance(node, ast.FunctionDef) and _cut_trt_step(node):
            cut.append(node.name)
    tree = ast.Module(body, tree.type_ignores)
    return ast.fix_missing_locations(tree), cut


def without_main_block(source: str) -> str:
    """The file without its `if __name__ == "__main__":` block, which pytest never runs (at TPAT's HEAD the block
    holds only comments, so the file as committed does not even parse)."""
    match = re.search(r"^if __name__ == [\"']__main__[\"']:", source, re.M)
    return source[:match.start()] if match else source


def _imports_trt(stmt) -> bool:
    names = [stmt.module or ""] if isinstance(stmt, ast.ImportFrom) else [a.name for a in stmt.names]
    return any(n.split(".")[0] in TRT_MODULES for n in names)


def _names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _calls_onnx2plugin(stmt) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "onnx2plugin"
               for n in ast.walk(stmt))


def _cut_trt_step(fn: ast.FunctionDef) -> bool:
    """Everything after the statement calling onnx2plugin becomes the hook, if that tail is a TensorRT step."""
    for i, stmt in enumerate(fn.body):
        if _calls_onnx2plugin(stmt):
            tail = fn.body[i + 1:]
            if not any({"trt", "cuda"} & _names(s) for s in tail):
                return False
            call = ast.Call(ast.Name(HOOK, ast.Load()), [ast.Call(ast.Name("locals", ast.Load()), [], [])], [])
            fn.body[i + 1:] = [ast.Return(call)]
            return True
    return False


class Recorder:
    """Stands in for TPAT's `python` package and for the TensorRT step: one folder per onnx2plugin call."""

    def __init__(self, root: Path):
        self.root = root
        self.test = ""
        self.calls: list[Path] = []
        self.tests: list[dict] = []

    def onnx2plugin(self, input_model_path, output_model_path, node_names=None, node_types=None,
                    plugin_name_dict=None, dynamic_bs=False, min_bs=None, max_bs=None, opt_bs=None):
        """TPAT's signature (python/onnx_to_plugin.py); records the call. TPAT returns the plugin names, which
        its tests read only in the TensorRT step this harness replaces."""
        index = len(self.calls)
        label = "_".join(node_names or node_types or list(plugin_name_dict or {}) or ["call"])
        folder = self.root / f"{index:03d}_{_slug(label)}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy2(input_model_path, folder / "model.onnx")
        args = {"input_model_path": str(input_model_path), "output_model_path": str(output_model_path),
                "node_names": _plain(node_names), "node_types": _plain(node_types),
                "plugin_name_dict": _plain(plugin_name_dict), "dynamic_bs": dynamic_bs, "min_bs": min_bs,
                "max_bs": max_bs, "opt_bs": opt_bs}
        (folder / CALL_FILE).write_text(json.dumps({"index": index, "test": self.test, "call": folder.name,
                                                    "args": args, "inputs": None}, indent=1))
        self.calls.append(folder)
        return [str(n) for n in (node_names or node_types or list(plugin_name_dict or {}))]

    def trt_step(self, frame: dict):
        """In place of TPAT's engine build and inference: keep the inputs TPAT would copy into the engine's
        bindings (`in_data`, in binding order: the graph inputs), for the GPU check."""
        folder = self.calls[-1]
        meta = json.loads((folder / CALL_FILE).read_text())
        inputs = [np.asarray(v) for v in frame["in_data"]]
        for i, value in enumerate(inputs):
            (folder / f"graph_input_{i}.pb").write_bytes(numpy_helper.from_array(value).SerializeToString())
        meta["inputs"] = len(inputs)
        (folder / CALL_FILE).write_text(json.dumps(meta, indent=1))
        return True


def _plain(value):
    if value is None:
        return None
    return dict(value) if isinstance(value, dict) else [str(v) for v in value]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60]


def collect(test_file: Path, out: Path, only: list[str] | None = None) -> dict:
    """Run TPAT's tests (or those named in `only`) with the replacements above; each onnx2plugin call lands in
    `out/calls/<NNN>_<node>/` (model.onnx, graph_input_<i>.pb, call.json), the tests' outcomes in tests.json."""
    test_file, out = Path(test_file).resolve(), Path(out).resolve()
    from .tpat_env import AbsentTensorFlow, onnx_1_10, tensorflow_v1

    tf = tensorflow_v1()
    tree, cut = transform(ast.parse(without_main_block(test_file.read_text()), str(test_file)), tf is not None)
    scratch = out / "tpat_tree"
    shutil.rmtree(out / CALLS, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "tests").mkdir(parents=True)
    (scratch / "python" / "model").mkdir(parents=True)
    recorder = Recorder(out / CALLS)
    package = types.ModuleType("python")
    package.onnx2plugin, package.__all__ = recorder.onnx2plugin, ["onnx2plugin"]
    saved = sys.modules.get("python")
    sys.modules["python"] = package
    cwd, environ, path, stack = os.getcwd(), dict(os.environ), list(sys.path), ExitStack()
    namespace = {"__name__": "tpat_test_tpat", "__file__": str(test_file), HOOK: recorder.trt_step,
                 TF_NAME: tf if tf is not None else AbsentTensorFlow()}
    try:
        stack.enter_context(onnx_1_10())
        os.chdir(scratch / "tests")
        exec(compile(tree, str(test_file), "exec"), namespace)  # noqa: S102 - TPAT's test file, on purpose
        tests = [n for n, f in namespace.items() if n.startswith("test_") and isinstance(f, types.FunctionType)]
        for name in tests:
            if only and name not in only:
                continue
            recorder.test = name
            before = len(recorder.calls)
            entry = {"test": name, "status": "passed"}
            try:
                namespace[name]()
            except BaseException as exc:  # noqa: BLE001 - TPAT's code may even exit(); each test gets a verdict
                if isinstance(exc, KeyboardInterrupt):
                    raise
                entry.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500],
                             traceback=traceback.format_exc(limit=-3))
            entry["calls"] = [p.name for p in recorder.calls[before:]]
            recorder.tests.append(entry)
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
        stack.close()
        if saved is None:
            sys.modules.pop("python", None)
        else:
            sys.modules["python"] = saved
    summary = {"test_file": str(test_file), "tensorflow": getattr(tf, "VERSION", None) if tf else None,
               "cut": cut, "tests": recorder.tests, "calls": [p.name for p in recorder.calls]}
    (out / TESTS_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="record every onnx2plugin call of TPAT's tests/test_tpat.py")
    p.add_argument("test_file", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--only", nargs="+", default=None, metavar="TEST")
    args = p.parse_args(argv)
    summary = collect(args.test_file, args.out, args.only)
    failed = [t for t in summary["tests"] if t["status"] != "passed"]
    print(f"{len(summary['calls'])} onnx2plugin calls from {len(summary['tests'])} tests "
          f"({len(failed)} tests failed in TPAT's code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
