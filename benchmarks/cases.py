"""The benchmark cases of issue 7: single-op ONNX models with fixed shapes, a torch reference for each, bytes moved.

Every case is one ONNX node (tpat converts one node into one plugin), so the models have exactly one node; runtime
tensors are graph inputs and constants (LayerNorm's gamma/beta, OneHot's depth/values, Resize's sizes) are
initializers, which tpat bakes into the plugin. The torch reference is eager PyTorch computing the same op on
tensors; it gets the runtime inputs positionally and the constants as torch tensors (``consts``), prepared once on
the device so that nothing is copied from the host while it is timed.

Module-level imports: numpy and onnx only (the GPU machine has no TVM; the CPU tests may have no torch).

    from benchmarks.cases import CASES
    case = CASES["softmax_b64_fp32"]
    model = case.model()                       # onnx.ModelProto, fixed shapes
    fn = case.reference(consts)                # consts: {initializer name: torch tensor}; fn(*inputs) -> tensor
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = 20  # Gelu is an ONNX op from opset 20; every other op here is unchanged since <= 18
ELEM = {"fp32": T.FLOAT, "fp16": T.FLOAT16}
NP = {"fp32": np.float32, "fp16": np.float16}
TORCH = {"fp32": "float32", "fp16": "float16"}


@dataclass(frozen=True)
class Case:
    name: str                      # also the ONNX node name, so the plugin is tpat_<name>
    op: str                        # ONNX op type
    group: str                     # "tpat" (TPAT's published cases) or "bert"
    dtype: str                     # fp32 / fp16 (of the float tensors)
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]    # runtime graph inputs: (name, shape, numpy dtype)
    outputs: tuple[tuple[str, tuple[int, ...], str], ...]   # graph outputs: (name, shape, numpy dtype)
    make_node: Callable[[], onnx.NodeProto]
    make_consts: Callable[[], dict[str, np.ndarray]]
    impl: Callable                 # impl(*inputs, consts=...) on torch tensors -> one torch tensor
    note: str = ""
    # bytes a kernel must move through DRAM when not every input byte is needed (GatherND reads only the gathered
    # rows of data); None: each input read once + each output written once + the constants
    moved: int | Callable[[dict], int] | None = None  # a callable: of the dim values (dynamic cases)
    # dynamic mode (the breadth suite): shapes may name dims (str), each declared here as (name, min, opt, max);
    # `points` are the dim values it is timed at (default: every dim at its opt). `make_node` may return several
    # nodes: they are fused into one plugin (named after the last node, whose name is the case's).
    dims: tuple[tuple[str, int, int, int], ...] = ()
    points: tuple[tuple[tuple[str, int], ...], ...] = ()
    static_of: str = ""            # set on a static twin (`at`): the dynamic case it was made from
    # axes of the first input that each output sums (ReduceSum/Mean/L2/LogSumExp): a float sum's rounding error
    # depends on its order and grows with the number of terms, so run.py's tolerance scales with that number
    summed_axes: tuple[int, ...] = ()
    opset: int = OPSET

    def summed(self) -> int:
        """Terms each output sums (1 when it sums none), at this case's shapes (a static twin's, or the opt)."""
        if not self.summed_axes:
            return 1
        case = self.at(self.opt) if self.dims else self
        shape = case.inputs[0][1]
        return int(np.prod([shape[a] for a in self.summed_axes]))

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        made = self.make_node()
        return list(made) if isinstance(made, (list, tuple)) else [made]

    @property
    def opt(self) -> dict[str, int]:
        return {n: o for n, _, o, _ in self.dims}

    def run_points(self) -> list[dict[str, int]]:
        """The dim values this case is timed at: each point over the opt values (just opt when none are given)."""
        return [{**self.opt, **dict(p)} for p in self.points] or ([self.opt] if self.dims else [{}])

    def at(self, values: dict[str, int]) -> "Case":
        """The static twin at `values`: the same nodes with every named dim fixed (the build of one shape)."""
        import dataclasses

        def fix(spec):
            return tuple((n, tuple(values[d] if isinstance(d, str) else d for d in s), t) for n, s, t in spec)

        return dataclasses.replace(self, inputs=fix(self.inputs), outputs=fix(self.outputs), dims=(), points=(),
                                   static_of=self.name, moved=self.moved_at(values) if self.moved else None)

    def moved_at(self, values: dict[str, int]) -> int | None:
        return self.moved(values) if callable(self.moved) else self.moved

    @staticmethod
    def point_name(values: dict[str, int]) -> str:
        return ",".join(f"{k}={v}" for k, v in values.items())

    @property
    def shape_str(self) -> str:
        if self.dims:
            return self.at(self.opt).shape_str
        ins = " ".join("x".join(map(str, s)) for _, s, _ in self.inputs)
        outs = " ".join("x".join(map(str, s)) for _, s, _ in self.outputs)
        return f"{ins} → {outs}"

    @property
    def bytes_moved(self) -> int:
        if self.dims:
            return self.at(self.opt).bytes_moved
        if self.moved is not None:
            return self.moved_at({})
        total = sum(int(np.prod(s)) * np.dtype(d).itemsize for _, s, d in (*self.inputs, *self.outputs))
        consts = sum(a.nbytes for a in self.make_consts().values())
        return total + consts

    def model(self) -> onnx.ModelProto:
        """The ONNX model: named dims (dynamic cases) as dim_params, so tpat keeps them symbolic."""
        ins = [h.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(d)), list(s))
               for n, s, d in self.inputs]
        outs = [h.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(d)), list(s))
                for n, s, d in self.outputs]
        inits = [nh.from_array(a, k) for k, a in self.make_consts().items()]
        graph = h.make_graph(self.nodes, f"{self.name}_graph", ins, outs, initializer=inits)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.opset)],
                             producer_name="tpat-benchmarks")
        model.ir_version = 9
        return model

    def reference(self, consts: dict) -> Callable:
        """fn(*inputs) -> tensor: the torch reference with its constants bound (already torch tensors)."""
        impl = self.impl

        def fn(*inputs):
            return impl(*inputs, consts=consts)

        fn.__name__ = f"ref_{self.name}"
        return fn


# --- torch implementations (torch imported lazily: this module must import without torch) ---------------------------
def _t_gather_nd(data, idx, *, consts):
    # batch_dims=0: the last axis of idx indexes the leading idx.shape[-1] dims of data
    return data[tuple(idx.unbind(-1))]


def _t_scatter_nd(data, idx, updates, *, consts):
    out = data.clone()
    out[tuple(idx.unbind(-1))] = updates
    return out


def _t_scatter_nd_add(data, idx, updates, *, consts):
    return data.index_put(tuple(idx.unbind(-1)), updates, accumulate=True)


def _t_one_hot(idx, *, consts):
    import torch

    depth = consts["depth_len"]            # python int (static), see _one_hot_case
    values = consts["values"]
    idx = torch.where(idx < 0, idx + depth, idx)
    out = values[0].expand(*idx.shape, depth).clone()
    return out.scatter_(-1, idx.unsqueeze(-1), values[1].expand(*idx.shape, 1))


def _t_resize_linear(x, *, consts):
    import torch.nn.functional as F

    # ONNX linear + half_pixel (the default) == torch bilinear with align_corners=False for upsampling
    return F.interpolate(x, size=consts["out_hw"], mode="bilinear", align_corners=False)


def _t_reduce_max(x, *, consts):
    return x.amax(dim=1)


def _t_softmax(x, *, consts):
    return x.softmax(dim=-1)


def _t_layer_norm(x, *, consts):
    import torch.nn.functional as F

    return F.layer_norm(x, (x.shape[-1],), consts["gamma"], consts["beta"], 1e-5)


def _t_gelu(x, *, consts):
    import torch.nn.functional as F

    return F.gelu(x)  # exact (erf) GELU, as ONNX Gelu with approximate="none"


# --- case builders ---------------------------------------------------------------------------------------------------
def _no_consts() -> dict[str, np.ndarray]:
    return {}


def _gather_nd(name, data_shape, idx_shape):
    k = idx_shape[-1]
    out_shape = tuple(idx_shape[:-1]) + tuple(data_shape[k:])
    return Case(name, "GatherND", "tpat", "fp32",
                (("data", data_shape, "float32"), ("indices", idx_shape, "int64")),
                (("y", out_shape, "float32"),),
                lambda: h.make_node("GatherND", ["data", "indices"], ["y"], name=name, batch_dims=0),
                _no_consts, _t_gather_nd,
                note=f"batch_dims=0: indices' last axis ({k}) indexes the first {k} dims of data; bytes moved count "
                     "only the gathered rows of data (read) + indices + output",
                moved=int(np.prod(idx_shape)) * 8 + 2 * int(np.prod(out_shape)) * 4)


def _scatter_nd(name, reduction, data=(32, 128, 128, 256), idx=(32, 600, 3)):
    upd = tuple(idx[:-1]) + tuple(data[idx[-1]:])
    impl = _t_scatter_nd if reduction == "none" else _t_scatter_nd_add
    return Case(name, "ScatterND", "tpat", "fp32",
                (("data", data, "float32"), ("indices", idx, "int64"), ("updates", upd, "float32")),
                (("y", data, "float32"),),
                lambda: h.make_node("ScatterND", ["data", "indices", "updates"], ["y"], name=name,
                                    reduction=reduction),
                _no_consts, impl,
                note=("indices (32,600,3) index the first 3 dims (batch, h, w); each picks a 256-wide row; "
                      + ("unique indices (duplicates are undefined without reduction)" if reduction == "none"
                         else "reduction=add, indices may repeat")))


def _one_hot_case(name, n, depth):
    def consts():
        return {"depth": np.array(depth, np.int64), "values": np.array([0.0, 1.0], np.float32)}

    def impl(idx, *, consts):
        return _t_one_hot(idx, consts={**consts, "depth_len": depth})

    return Case(name, "OneHot", "tpat", "fp32", (("idx", (n,), "int64"),), (("y", (n, depth), "float32"),),
                lambda: h.make_node("OneHot", ["idx", "depth", "values"], ["y"], name=name, axis=-1),
                consts, impl, note="depth and values are constants (baked into the plugin)")


def _resize_case(name, in_shape, out_hw):
    out_shape = tuple(in_shape[:2]) + tuple(out_hw)

    def consts():
        return {"sizes": np.array(out_shape, np.int64)}

    def impl(x, *, consts):
        return _t_resize_linear(x, consts={"out_hw": tuple(out_hw)})

    return Case(name, "Resize", "tpat", "fp32", (("x", in_shape, "float32"),), (("y", out_shape, "float32"),),
                lambda: h.make_node("Resize", ["x", "", "", "sizes"], ["y"], name=name, mode="linear"),
                consts, impl, note="mode=linear, half_pixel, output given by `sizes` (a constant)")


def _reduce_max_case(name, shape=(256, 82, 128)):
    return Case(name, "ReduceMax", "tpat", "fp32", (("x", shape, "float32"),),
                (("y", (shape[0],) + tuple(shape[2:]), "float32"),),
                lambda: h.make_node("ReduceMax", ["x", "axes"], ["y"], name=name, keepdims=0),
                lambda: {"axes": np.array([1], np.int64)}, _t_reduce_max, note="axes=[1] (a constant input, opset 18+)")


def _softmax_case(name, b, dt, s=None):
    s = s or (b, 12, 128, 128)
    return Case(name, "Softmax", "bert", dt, (("x", s, np.dtype(NP[dt]).name),), (("y", s, np.dtype(NP[dt]).name),),
                lambda: h.make_node("Softmax", ["x"], ["y"], name=name, axis=-1), _no_consts, _t_softmax,
                note="BERT-base attention probabilities: the Softmax node alone; the mask Add before it is NOT "
                     "fused (the engine converts one node), so its extra pass over the scores is not counted")


def _layer_norm_case(name, b, dt, s=None):
    s = s or (b, 128, 768)
    npd = NP[dt]

    def consts():
        rng = np.random.default_rng(7)
        return {"gamma": (1 + 0.1 * rng.standard_normal(s[-1])).astype(npd),
                "beta": (0.1 * rng.standard_normal(s[-1])).astype(npd)}

    return Case(name, "LayerNormalization", "bert", dt, (("x", s, np.dtype(npd).name),),
                (("y", s, np.dtype(npd).name),),
                lambda: h.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], name=name, axis=-1,
                                    epsilon=1e-5),
                consts, _t_layer_norm, note="gamma/beta constants (baked in); stash_type=1 (fp32 statistics)")


def _gelu_case(name, b, dt, s=None):
    s = s or (b, 128, 3072)
    npd = np.dtype(NP[dt]).name
    return Case(name, "Gelu", "bert", dt, (("x", s, npd),), (("y", s, npd),),
                lambda: h.make_node("Gelu", ["x"], ["y"], name=name), _no_consts, _t_gelu,
                note="ONNX opset-20 Gelu (approximate=none, erf form), imported by TVM's relax frontend as one op")


def _all_cases() -> dict[str, Case]:
    cases = [
        _gather_nd("gathernd_128x128x224", (1, 128, 128, 224), (1, 600, 3)),
        _gather_nd("gathernd_158x128x128", (1, 158, 128, 128), (1, 2)),
        _scatter_nd("scatternd_update", "none"),
        _scatter_nd("scatternd_add", "add"),
        _one_hot_case("onehot_16x16384", 16, 16384),
        _resize_case("resize_44x50_to_176x200", (32, 32, 44, 50), (176, 200)),
        _resize_case("resize_11x12_to_176x200", (32, 64, 11, 12), (176, 200)),
        _reduce_max_case("reducemax_256x82x128"),
    ]
    for op, make in (("softmax", _softmax_case), ("layernorm", _layer_norm_case), ("gelu", _gelu_case)):
        for b in (1, 64):
            for dt in ("fp32", "fp16"):
                cases.append(make(f"{op}_b{b}_{dt}", b, dt))
    return {c.name: c for c in cases}


def _small_cases() -> dict[str, Case]:
    """The same ops, attributes and dtypes as CASES at small shapes (the CPU tests check torch vs onnxruntime)."""
    cases = [
        _gather_nd("gathernd_128x128x224", (1, 8, 8, 16), (1, 6, 3)),
        _gather_nd("gathernd_158x128x128", (1, 9, 8, 8), (1, 2)),
        _scatter_nd("scatternd_update", "none", (2, 8, 8, 16), (2, 6, 3)),
        _scatter_nd("scatternd_add", "add", (2, 8, 8, 16), (2, 40, 3)),
        _one_hot_case("onehot_16x16384", 16, 64),
        _resize_case("resize_44x50_to_176x200", (2, 3, 4, 5), (16, 20)),
        _resize_case("resize_11x12_to_176x200", (2, 3, 3, 4), (16, 20)),  # non-integer scales, as 11x12 -> 176x200
        _reduce_max_case("reducemax_256x82x128", (4, 82, 8)),
    ]
    for op, make, shape in (("softmax", _softmax_case, (2, 12, 8, 16)), ("layernorm", _layer_norm_case, (2, 4, 768)),
                            ("gelu", _gelu_case, (2, 4, 96))):
        for b in (1, 64):
            for dt in ("fp32", "fp16"):
                cases.append(make(f"{op}_b{b}_{dt}", b, dt, shape))
    return {c.name: c for c in cases}


CASES: dict[str, Case] = _all_cases()
SMALL_CASES: dict[str, Case] = _small_cases()


def suite_cases(suite: str = "core") -> dict[str, Case]:
    """core: the 20 cases above (fixed shapes); breadth: benchmarks/cases_breadth.py (dynamic dims); all: both."""
    if suite == "core":
        return CASES
    from benchmarks.cases_breadth import BREADTH

    if suite == "breadth":
        return BREADTH
    if suite == "all":
        return {**CASES, **BREADTH}
    raise KeyError(f"no benchmark suite {suite!r}; known: core, breadth, all")


def select(names: Sequence[str] | None, suite: str = "core") -> list[Case]:
    """Cases by name (or by prefix: "softmax" picks all four softmax cases); all when `names` is empty."""
    cases = suite_cases(suite)
    if not names:
        return list(cases.values())
    picked = []
    for n in names:
        hits = [c for k, c in cases.items() if k == n or k.startswith(n)]
        if not hits:
            raise KeyError(f"no benchmark case {n!r}; known: {', '.join(cases)}")
        picked.extend(c for c in hits if c not in picked)
    return picked
