"""rtx_check through TensorRT-RTX's own Python bindings: the same check and output as ``rtx_check.cpp``, no headers.

Run as ``python -m tpat.trt.checker.rtx_check ARGS`` (the same arguments and exit codes as the C++ checker) in a
child process whose LD_LIBRARY_PATH holds ``libtensorrt_rtx.so`` (the RTX ONNX parser dlopens that exact name and calls
std::terminate when it does not resolve). Needs the PyPI wheels ``tensorrt-rtx-cu13-bindings`` (module
``tensorrt_rtx_bindings``) and ``tensorrt-rtx-cu13-libs``. It exists so that a machine without the TensorRT 11.x
headers (CI: PyPI has none) still runs TensorRT's own registry, parser and builder on the plugins. ``--run`` is only
in the C++ checker.

Kept free of tpat imports: it runs in a bare child process and must not pull TVM in.
"""

from __future__ import annotations

import argparse
import sys
import time

OK, USAGE, SETUP, REGISTER_FAILED, IMPORT_FAILED, BUILD_FAILED, RUN_FAILED = 0, 2, 3, 4, 5, 6, 7
EXIT_NAMES = {OK: "ok", USAGE: "usage", SETUP: "setup-failed", REGISTER_FAILED: "register-failed",
              IMPORT_FAILED: "import-failed", BUILD_FAILED: "build-failed", RUN_FAILED: "run-failed"}
# DataType enum names -> the C++ checker's spelling
DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "INT32": "int32",
          "INT64": "int64", "BOOL": "bool", "UINT8": "uint8", "FP8": "fp8", "INT4": "int4", "FP4": "fp4"}


def out(line: str) -> None:
    print(line, flush=True)


def clean(s) -> str:
    return "".join("_" if c in " \t\r\n" else c for c in str(s if s is not None else ""))


def one_line(s) -> str:
    return str(s if s is not None else "").replace("\r", " ").replace("\n", " ")


def finish(code: int) -> int:
    out(f"result status={EXIT_NAMES.get(code, 'unknown')} exit={code}")
    return code


def dims_str(d) -> str:
    return "[" + ",".join(str(int(v)) for v in d) + "]"


def parse_dims(text: str) -> tuple[int, ...]:
    if not text:
        return ()
    values = tuple(int(v) for v in text.split("x"))
    if any(v < 0 for v in values):
        raise ValueError(text)
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rtx_check.py")
    ap.add_argument("--rtx-lib")  # accepted for symmetry with the C++ checker; the bindings load their own
    ap.add_argument("--parser-lib")
    ap.add_argument("--model", required=True)
    ap.add_argument("--plugin", action="append", default=[])
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--shape", action="append", default=[])
    ap.add_argument("--save-engine")
    ap.add_argument("--run", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    try:
        args = ap.parse_args(argv)
    except SystemExit:
        return finish(USAGE)
    expects, shapes = [], {}
    try:
        for e in args.expect:
            node, spec = e.split("=", 1)
            name, version, ns = spec.split(":")
            expects.append((node, name, version, ns))
        for s in args.shape:
            name, spec = s.rsplit("=", 1)
            lo, opt, hi = (parse_dims(p) for p in spec.split(":"))
            shapes[name] = (lo, opt, hi)
    except ValueError:
        print("rtx_check: bad --expect NODE=NAME:VERSION:NAMESPACE or --shape INPUT=MIN:OPT:MAX", file=sys.stderr)
        return finish(USAGE)

    try:
        import tensorrt_rtx_bindings as trt  # type: ignore[import-not-found]
    except ImportError as exc:
        out(f"library name=tensorrt_rtx_bindings status=fail msg=cannot import the TensorRT-RTX Python bindings: {exc}")
        return finish(SETUP)
    import ctypes

    try:
        ctypes.CDLL("libtensorrt_rtx.so")
    except OSError:
        out('library name=tensorrt_rtx status=fail msg=the ONNX parser dlopens "libtensorrt_rtx.so" by that exact name '
            "and it does not resolve: put a folder holding libtensorrt_rtx.so on LD_LIBRARY_PATH")
        return finish(SETUP)
    out(f"library name=tensorrt_rtx_bindings version={clean(trt.__version__)} path={clean(trt.__file__)}")

    stage = ["setup"]
    errors = [0]
    S = trt.ILogger.Severity

    class Logger(trt.ILogger):
        def log(self, severity, msg):  # noqa: D401 - TensorRT callback
            text = one_line(msg)
            if severity in (S.INTERNAL_ERROR, S.ERROR):
                errors[0] += 1
            show = severity in (S.INTERNAL_ERROR, S.ERROR, S.WARNING) or args.verbose
            if not show and severity == S.INFO:
                show = "plugin" in text.lower()
            if show:
                name = {S.INTERNAL_ERROR: "internal-error", S.ERROR: "error", S.WARNING: "warning", S.INFO: "info",
                        S.VERBOSE: "verbose"}.get(severity, "unknown")
                out(f"log stage={stage[0]} severity={name} msg={text}")

    logger = Logger()
    code = OK
    stage[0] = "register"
    registry = trt.get_plugin_registry()

    def creator_keys():
        keys = set()
        for c in registry.all_creators:
            kind = getattr(getattr(c, "interface_info", None), "kind", type(c).__name__)
            keys.add((c.name, c.plugin_version, c.plugin_namespace, kind))
        return keys

    for path in args.plugin:
        before = creator_keys()
        errors_before = errors[0]
        handle = registry.load_library(path)
        added = sorted(creator_keys() - before)
        for name, version, ns, kind in added:
            out(f"creator lib={clean(path)} name={clean(name)} version={clean(version)} namespace={clean(ns)} "
                f"kind={clean(kind)}")
        if handle is None or not added:
            why = ("IPluginRegistry::loadLibrary failed" if handle is None else
                   "the library registered no new creator (already registered, or getCreators returned none)")
            if handle is None:  # TRT-RTX logs nothing then: find the reason with our own dlopen
                try:
                    own = ctypes.CDLL(path)
                    if not (hasattr(own, "getCreators") or hasattr(own, "getPluginCreators")):
                        why += ": the library exports no getCreators"
                except OSError as exc:
                    why += f": dlopen: {one_line(exc)}"
            out(f"register lib={clean(path)} status=fail creators={len(added)} msg={why}")
            code = REGISTER_FAILED
        else:
            out(f"register lib={clean(path)} status=ok creators={len(added)} errors={errors[0] - errors_before}")

    stage[0] = "parse"
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    parsed = parser.parse_from_file(args.model)
    for i in range(parser.num_errors):
        e = parser.get_error(i)
        out(f"parse-error index={i} code={clean(str(e.code()).rsplit('.', 1)[-1])} node={e.node()} "
            f"name={clean(e.node_name())} op={clean(e.node_operator())} where={clean(e.file())}:{e.line()} "
            f"msg={one_line(e.desc())}")
    out(f"parse status={'ok' if parsed else 'fail'} errors={parser.num_errors} layers={network.num_layers} "
        f"inputs={network.num_inputs} outputs={network.num_outputs}")
    if not parsed:
        return finish(code if code != OK else IMPORT_FAILED)

    layers = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type != trt.LayerType.PLUGIN_V3:
            if args.verbose:
                out(f"layer index={i} name={clean(layer.name)} type={int(layer.type)}")
            continue
        layer.__class__ = trt.IPluginV3Layer
        core = layer.plugin.get_capability_interface(trt.PluginCapabilityType.CORE)
        info = (core.plugin_name, core.plugin_version, core.plugin_namespace) if core is not None else ("?",) * 3
        out(f"layer index={i} name={clean(layer.name)} type=PLUGIN_V3 plugin={clean(info[0])} version={clean(info[1])} "
            f"namespace={clean(info[2])} inputs={layer.num_inputs} outputs={layer.num_outputs}")
        layers[layer.name] = info
    for node, name, version, ns in expects:
        found = layers.get(node)
        if found is None:
            out(f"import node={clean(node)} status=missing msg=no IPluginV3 layer named after this node")
            code = code if code != OK else IMPORT_FAILED
            continue
        same = found == (name, version, ns)
        out(f"import node={clean(node)} status={'ok' if same else 'mismatch'} plugin={clean(found[0])} "
            f"version={clean(found[1])} namespace={clean(found[2])} "
            f"expected={clean(name)}:{clean(version)}:{clean(ns)}")
        if not same:
            code = code if code != OK else IMPORT_FAILED
    if code != OK:
        return finish(code)

    stage[0] = "build"
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    names = set()
    need_profile = False
    for i in range(network.num_inputs):
        t = network.get_input(i)
        names.add(t.name)
        dims = tuple(t.shape)
        dtype = str(t.dtype).rsplit(".", 1)[-1].upper()
        dtype = DTYPES.get(dtype, dtype.lower())
        out(f"input name={clean(t.name)} dtype={clean(dtype)} dims={dims_str(dims)}")
        if t.name not in shapes:
            if any(d < 0 for d in dims):
                out(f"profile input={clean(t.name)} status=fail msg=dynamic input without --shape "
                    f"{clean(t.name)}=MIN:OPT:MAX")
                return finish(USAGE)
            continue
        lo, opt, hi = shapes[t.name]
        need_profile = True
        try:
            profile.set_shape(t.name, lo, opt, hi)
            ok = True
        except Exception:  # noqa: BLE001 - the bindings raise on a refused shape
            ok = False
        out(f"profile input={clean(t.name)} status={'ok' if ok else 'fail'} min={dims_str(lo)} opt={dims_str(opt)} "
            f"max={dims_str(hi)}")
        if not ok:
            return finish(USAGE)
    for name in shapes:
        if name not in names:
            out(f"profile input={clean(name)} status=fail msg=the network has no such input")
            return finish(USAGE)
    if need_profile and config.add_optimization_profile(profile) < 0:
        out("profile status=fail msg=addOptimizationProfile refused the profile (see the log lines above)")
        return finish(USAGE)
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - t0
    if plan is None or plan.nbytes == 0:
        out(f"build status=fail seconds={seconds:.2f} msg=buildSerializedNetwork returned no plan (see the log lines "
            "above)")
        return finish(BUILD_FAILED)
    out(f"build status=ok engine_bytes={plan.nbytes} seconds={seconds:.2f}")
    if args.save_engine:
        with open(args.save_engine, "wb") as f:
            f.write(memoryview(plan))
        out(f"engine path={clean(args.save_engine)} status=ok")
    if args.run:
        out("run status=fail msg=--run needs the C++ checker (TensorRT 11.x headers); the Python-bindings checker only "
            "builds")
        return finish(RUN_FAILED)
    return finish(OK)


if __name__ == "__main__":
    sys.exit(main())
