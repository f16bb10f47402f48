"""`tpat inspect`: what a model contains and which of its nodes TensorRT cannot import, as plain data.

The point is the first step of every conversion: find the nodes that need a plugin, then write the spec. So the
report carries, besides op counts and graph I/O, a ready `config.yaml` snippet that selects exactly those nodes.
Support comes from the table in `tpat.trt_support`; a few per-node restrictions (ScatterND's `reduction`,
OneHot's run-time `depth`, ...) are checked here because they decide support for one node, not for the op type.

    report = inspect_model("model.onnx")
    [o.op_type for o in report.unsupported]   # e.g. ['ScatterND'] for ScatterND(reduction="add")
    print(report.config)
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import onnx

from . import trt_support
from .ir.dtypes import BY_ONNX
from .graph.model_io import load_model

DEFAULT_BATCH = {"min": 1, "opt": 128, "max": 256}  # the onnx2plugin defaults (min_bs, opt_bs, max_bs)


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output. `shape` is None when the rank is unknown; a dim is an int, a name, or None."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None

    def shape_text(self) -> str:
        if self.shape is None:
            return "?"
        return "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"


@dataclass(frozen=True)
class OpReport:
    """One op type. `trt` is supported (every node imports natively), partial or unsupported; `plugin_nodes`
    lists the nodes that need a plugin (nameless nodes appear as ``#<index>``), `reasons` why, one per node."""

    op_type: str
    domain: str
    count: int
    trt: str
    note: str
    plugin_nodes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DynamicDim:
    name: str
    batch: bool  # found on axis 0 of a graph input
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class ModelReport:
    path: str
    opsets: dict[str, int]
    nodes: int
    subgraph_nodes: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ops: tuple[OpReport, ...]
    dynamic: tuple[DynamicDim, ...]
    config: str

    @property
    def unsupported(self) -> tuple[OpReport, ...]:
        return tuple(o for o in self.ops if o.trt != "supported")

    def to_json(self) -> dict:
        d = asdict(self)
        d["trt_source"] = {"tensorrt": trt_support.TRT_VERSION, "repo": trt_support.SOURCE[0],
                           "file": trt_support.SOURCE[1], "commit": trt_support.SOURCE[2]}
        return d


def inspect_model(path: str | Path) -> ModelReport:
    """Load (with tpat's checks: missing or corrupt files raise `ModelError`) and describe the model. The config
    snippet names the model by absolute path, so it works wherever the user saves it."""
    model = load_model(path)
    return describe(model, str(path), os.path.abspath(path))


def describe(model: onnx.ModelProto, path: str = "model.onnx", config_path: str | None = None) -> ModelReport:
    """The report for an already loaded model; `config_path` (default `path`) is what the snippet's `path:` says."""
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = tuple(_tensor(vi) for vi in g.input if vi.name not in inits)
    outputs = tuple(_tensor(vi) for vi in g.output)
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    report = ModelReport(path, opsets, len(g.node), _count_subgraph_nodes(g), inputs, outputs, _ops(g, inits),
                         _dynamic_dims(inputs), "")
    return replace(report, config=config_yaml(report, config_path or path))


def _tensor(vi: onnx.ValueInfoProto) -> TensorInfo:
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None:
        return TensorInfo(vi.name, vi.type.WhichOneof("value") or "?", None)
    dtype = _dtype_name(tt.elem_type)
    shape = tuple(_dim(d) for d in tt.shape.dim) if tt.HasField("shape") else None
    return TensorInfo(vi.name, dtype, shape)


def _dtype_name(elem: int) -> str:
    """numpy spelling for the dtypes a plugin can carry (float32, int64, ...), else ONNX's name in lower case."""
    known = BY_ONNX.get(elem)
    return known.name if known else onnx.TensorProto.DataType.Name(elem).lower() if elem else "?"


def _dim(d) -> int | str | None:
    """A dim as stored: its value (0 or -1 included: TPAT reads those on axis 0 as the batch), name, or None."""
    if d.HasField("dim_value"):
        return d.dim_value
    return d.dim_param or None


def _ops(g: onnx.GraphProto, inits: set[str]) -> tuple[OpReport, ...]:
    constants = set(inits) | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    counts = Counter((n.domain, n.op_type) for n in g.node)
    problems: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for i, n in enumerate(g.node):
        support = trt_support.lookup(n.op_type, n.domain)
        if support.native:
            reason = node_problem(n, constants)
        else:
            reason = support.note or "the TensorRT operator list marks it unsupported"
        if reason:
            problems.setdefault((n.domain, n.op_type), []).append((n.name or f"#{i}", reason))
    out = []
    for (domain, op_type), count in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        support = trt_support.lookup(op_type, domain)
        bad = problems.get((domain, op_type), [])
        trt = "supported" if not bad else "unsupported" if len(bad) == count else "partial"
        out.append(OpReport(op_type, domain or "ai.onnx", count, trt, support.note,
                            tuple(b[0] for b in bad), tuple(b[1] for b in bad)))
    return tuple(out)


def node_problem(node: onnx.NodeProto, constants: set[str]) -> str | None:
    """A restriction from the TensorRT doc that this particular node breaks, or None. Only restrictions that one
    node's attributes and inputs decide are checked; the rest stay notes."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "ScatterND":
        red = attrs.get("reduction", b"none")
        red = red.decode() if isinstance(red, bytes) else str(red)
        if red != "none":
            return f"reduction={red!r}; TensorRT imports only reduction='none'"
    if node.op_type == "OneHot" and len(node.input) > 1 and node.input[1] not in constants:
        return "depth is computed at run time; TensorRT needs a build-time constant"
    if node.op_type == "TopK" and attrs.get("sorted", 1) == 0:
        return "sorted=0; TensorRT needs sorted=1"
    if node.op_type == "LayerNormalization" and sum(1 for o in node.output[1:] if o) > 0:
        return "uses the Mean/InvStdDev outputs; TensorRT supports only Y"
    return None


def _dynamic_dims(inputs: tuple[TensorInfo, ...]) -> tuple[DynamicDim, ...]:
    """Symbolic input dims by name. Axis 0 given as 0, -1 or unset is TPAT's batch convention, named "batch"."""
    on_axis0: dict[str, bool] = {}
    users: dict[str, list[str]] = {}
    for t in inputs:
        for axis, d in enumerate(t.shape or ()):
            zero_batch = axis == 0 and (d is None or isinstance(d, int) and d <= 0)
            name = d if isinstance(d, str) else "batch" if zero_batch else None
            if name is None:
                continue
            on_axis0[name] = on_axis0.get(name, False) or axis == 0
            users.setdefault(name, [])
            if t.name not in users[name]:
                users[name].append(t.name)
    return tuple(DynamicDim(k, on_axis0[k], tuple(v)) for k, v in users.items())


def _count_subgraph_nodes(g: onnx.GraphProto) -> int:
    total = 0
    for n in g.node:
        for a in n.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for s in subs:
                total += len(s.node) + _count_subgraph_nodes(s)
    return total


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _y(s: str) -> str:
    """A YAML scalar for `s`: plain when it is an identifier, else a JSON string (valid YAML)."""
    plain = _PLAIN.fullmatch(s) and s.lower() not in {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}
    return s if plain else json.dumps(s)


def config_yaml(report: ModelReport, model_path: str) -> str:
    """A `config.yaml` (docs/spec.md, version 1) selecting the nodes TensorRT cannot import."""
    whole = [o.op_type for o in report.ops if o.trt == "unsupported"]
    some = [n for o in report.ops if o.trt == "partial" for n in o.plugin_nodes if not n.startswith("#")]
    lines = ["# tpat config from `tpat inspect` (docs/spec.md); relative paths start at this file's folder",
             "version: 1", "models:", f"  - path: {_y(model_path)}", "    targets:"]
    if whole:
        lines.append(f"      op_types: [{', '.join(_y(t) for t in whole)}]")
    if some:
        lines.append(f"      nodes: [{', '.join(_y(n) for n in some)}]   # nodes of partially supported ops")
    if not (whole or some):
        lines += ["      # TensorRT imports every op of this model natively; to replace some anyway, list them:",
                  "      # op_types: [Softmax]", "      # nodes: [node_name]"]
    if report.dynamic:
        lines.append("    dynamic:")
        for d in report.dynamic:
            r = DEFAULT_BATCH
            hint = "" if d.batch else "   # not a batch dim: set its real range"
            lines.append(f"      {_y(d.name)}: {{min: {r['min']}, opt: {r['opt']}, max: {r['max']}}}{hint}")
    lines.append("    # arch: [sm_90]")
    return "\n".join(lines) + "\n"
