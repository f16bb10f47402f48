"""The breadth suite (issue 15): the op families of the core suite and their neighbours, converted in dynamic mode.

The 20 core cases (`cases.py`) are the shapes tpat's schedule rules were written for. These are chosen by op family
and layout instead — reductions over the last, a middle, the first and several axes, short and long rows; scatters
and gathers with and without reduction and with duplicate indices; OneHot at large index counts; CumSum, TopK,
ArgMax; broadcast/Where chains; Transpose, Concat, Split; pooling; Instance/Group normalization; GELU/Erf at
BERT-large widths; LayerNorm at hidden 1024/4096; Softmax at sequence 384/512 with its mask Add fused — in fp32 and
fp16 where the op has floats.

Every case names its dynamic dims in its shapes (`batch`, `seq`, `edges`) and declares their ranges (1..2×opt):
`prebuild.py --suite breadth` builds it with those dims symbolic (one kernel for the range, as a user's
`tpat onnx2plugin -dynamic=true` / `dynamic:` spec gives) and a static twin per timed point (`Case.at`), and
`run.py --suite breadth` times the symbolic kernels at each point against torch and against the static twin. The
attention, LayerNorm and GELU cases have a dynamic sequence length too, timed at 128, 384 and 512.

Module-level imports: numpy and onnx only (the GPU machine has no TVM; torch is imported inside the references).
"""

from __future__ import annotations

import numpy as np
from onnx import helper as h

from benchmarks.cases import NP, Case

SEQ_POINTS = ((("seq", 128),), (("seq", 384),), (("seq", 512),))


def _np(dt: str) -> str:
    return np.dtype(NP[dt]).name


def _rng_array(shape, dt, scale=0.1, offset=0.0, seed=7):
    rng = np.random.default_rng(seed)
    return (offset + scale * rng.standard_normal(shape)).astype(NP[dt] if dt in NP else dt)


def _case(name, op, group, dt, inputs, outputs, nodes, impl, dims, consts=None, points=(), note="", moved=None,
          **more):
    return Case(name, op, group, dt, tuple(inputs), tuple(outputs), nodes, consts or (lambda: {}), impl, note=note,
                moved=moved, dims=tuple(dims), points=tuple(points), **more)


def _batch(opt: int, name: str = "batch") -> tuple[str, int, int, int]:
    return (name, 1, opt, 2 * opt)


# --- reductions ------------------------------------------------------------------------------------------------------
_REDUCE = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "amax", "ReduceMin": "amin", "ReduceL2": "l2",
           "ReduceLogSumExp": "logsumexp"}


def _reduce(name, op, dt, shape, axes, keep, opt):
    rank = len(shape)
    norm = sorted(a % rank for a in axes)
    out = tuple(1 if i in norm else d for i, d in enumerate(shape) if keep or i not in norm)
    how = _REDUCE[op]

    def impl(x, *, consts):
        import torch

        if how == "l2":
            return torch.linalg.vector_norm(x.float(), dim=norm, keepdim=bool(keep)).to(x.dtype)
        if how == "logsumexp":
            return torch.logsumexp(x.float(), dim=norm, keepdim=bool(keep)).to(x.dtype)
        if how in ("sum", "mean"):
            return getattr(x.float(), how)(dim=norm, keepdim=bool(keep)).to(x.dtype)
        return getattr(x, how)(dim=norm, keepdim=bool(keep))

    where = {rank - 1: "last axis", 0: "first axis"}.get(norm[0], "middle axis") if len(norm) == 1 else "axes"
    return _case(name, op, "reduce", dt, [("x", shape, _np(dt))], [("y", out, _np(dt))],
                 lambda: h.make_node(op, ["x", "axes"], ["y"], name=name, keepdims=keep),
                 impl, [_batch(opt)], lambda: {"axes": np.array(axes, np.int64)},
                 note=f"{op} over the {where} {norm} (keepdims={keep}); fp16 sums accumulate in fp32 in torch",
                 summed_axes=tuple(norm) if how in ("sum", "mean", "l2", "logsumexp") else ())


def _reductions() -> list[Case]:
    B = "batch"
    return [
        _reduce("reducesum_last1024_keep_fp32", "ReduceSum", "fp32", (B, 128, 1024), [-1], 1, 128),
        _reduce("reducesum_last1024_keep_fp16", "ReduceSum", "fp16", (B, 128, 1024), [-1], 1, 128),
        _reduce("reducemean_last64_fp32", "ReduceMean", "fp32", (B, 4096, 64), [-1], 0, 64),
        _reduce("reducemax_last4096_fp16", "ReduceMax", "fp16", (B, 16, 4096), [-1], 0, 256),
        _reduce("reducemax_mid_fp32", "ReduceMax", "fp32", (B, 82, 128), [1], 0, 2048),
        _reduce("reducemin_mid_fp16", "ReduceMin", "fp16", (B, 64, 56, 56), [1], 1, 128),
        _reduce("reducesum_first_fp32", "ReduceSum", "fp32", (B, 256, 512), [0], 0, 256),
        _reduce("reducemean_hw_fp32", "ReduceMean", "fp32", (B, 256, 32, 32), [2, 3], 1, 128),
        _reduce("reducesum_axes13_fp32", "ReduceSum", "fp32", (B, 64, 128, 32), [1, 3], 0, 64),
        _reduce("reducel2_last_fp32", "ReduceL2", "fp32", (B, 128, 768), [-1], 0, 128),
        _reduce("reducelogsumexp_last_fp32", "ReduceLogSumExp", "fp32", (B, 128, 1000), [-1], 0, 64),
    ]


# --- BERT rows with a dynamic sequence: attention Softmax (mask Add fused), LayerNorm, GELU --------------------------
def _attention(name, dt, heads=12):
    shape, mask = ("batch", heads, "seq", "seq"), ("batch", 1, 1, "seq")

    def nodes():
        return [h.make_node("Add", ["x", "mask"], ["scores"], name=f"{name}_add"),
                h.make_node("Softmax", ["scores"], ["y"], name=name, axis=-1)]

    def impl(x, mask, *, consts):
        return (x + mask).softmax(dim=-1)

    return _case(name, "Add+Softmax", "bert", dt, [("x", shape, _np(dt)), ("mask", mask, _np(dt))],
                 [("y", shape, _np(dt))], nodes, impl, [_batch(32), ("seq", 1, 384, 512)], points=SEQ_POINTS,
                 note="BERT attention: the mask Add fused with its Softmax into one plugin; batch and sequence "
                      "dynamic (rows of symbolic length)")


def _softmax_static_row(name, dt, seq):
    shape = ("batch", 12, seq, seq)
    return _case(name, "Softmax", "bert", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: h.make_node("Softmax", ["x"], ["y"], name=name, axis=-1),
                 lambda x, *, consts: x.softmax(dim=-1), [_batch(32)],
                 note=f"Softmax over rows of {seq} (static), batch dynamic")


def _layer_norm(name, dt, hidden, seq_dynamic):
    shape = ("batch", "seq" if seq_dynamic else 128, hidden)

    def consts():
        return {"gamma": _rng_array(hidden, dt, 0.1, 1.0), "beta": _rng_array(hidden, dt, 0.1, 0.0, seed=8)}

    def impl(x, *, consts):
        import torch.nn.functional as F

        return F.layer_norm(x, (x.shape[-1],), consts["gamma"], consts["beta"], 1e-5)

    dims = [_batch(32), ("seq", 1, 384, 512)] if seq_dynamic else [_batch(64)]
    return _case(name, "LayerNormalization", "bert", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: h.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], name=name, axis=-1,
                                     epsilon=1e-5),
                 impl, dims, consts, points=SEQ_POINTS if seq_dynamic else (),
                 note=f"hidden {hidden}, gamma/beta constants" + (", batch and sequence dynamic" if seq_dynamic
                                                                  else ", batch dynamic"))


def _gelu(name, dt, seq_dynamic, op="Gelu"):
    shape = ("batch", "seq" if seq_dynamic else 128, 4096)

    def impl(x, *, consts):
        import torch
        import torch.nn.functional as F

        return F.gelu(x) if op == "Gelu" else torch.erf(x)

    dims = [_batch(32), ("seq", 1, 384, 512)] if seq_dynamic else [_batch(64)]
    return _case(name, op, "bert", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: h.make_node(op, ["x"], ["y"], name=name), impl, dims,
                 points=SEQ_POINTS if seq_dynamic else (), note=f"BERT-large width (4096), {op}")


def _bert() -> list[Case]:
    return [_attention("attn_softmax_fp16", "fp16"), _attention("attn_softmax_fp32", "fp32"),
            _softmax_static_row("softmax_s384_fp32", "fp32", 384),
            _softmax_static_row("softmax_s512_fp16", "fp16", 512),
            _layer_norm("layernorm_h1024_fp16", "fp16", 1024, True),
            _layer_norm("layernorm_h1024_fp32", "fp32", 1024, True),
            _layer_norm("layernorm_h4096_fp16", "fp16", 4096, False),
            _layer_norm("layernorm_h4096_fp32", "fp32", 4096, False),
            _gelu("gelu_h4096_fp16", "fp16", True), _gelu("gelu_h4096_fp32", "fp32", False),
            _gelu("erf_h4096_fp32", "fp32", False, op="Erf")]


# --- scatters and gathers --------------------------------------------------------------------------------------------
_TORCH_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


def _scatter_elements(name, dt, reduction, nodes=10000, feat=64, edges=40000):
    """A GNN message aggregation: updates of `edges` messages scattered onto `nodes` rows (axis 0)."""
    def impl(data, idx, upd, *, consts):
        if reduction == "none":
            return data.scatter(0, idx, upd)
        return data.scatter_reduce(0, idx, upd, reduce=_TORCH_REDUCE[reduction], include_self=True)

    return _case(name, "ScatterElements", "scatter", dt,
                 [("data", (nodes, feat), _np(dt)), ("indices", ("edges", feat), "int64"),
                  ("updates", ("edges", feat), _np(dt))], [("y", (nodes, feat), _np(dt))],
                 lambda: h.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], name=name, axis=0,
                                     reduction=reduction),
                 impl, [_batch(edges, "edges")],
                 note=f"axis 0, reduction={reduction}: {edges} messages onto {nodes} rows, random indices "
                      "(duplicates: ~4 messages a row)")


def _scatter_elements_rows(name, dt):
    """reduction=none along rows: each row a permutation (duplicates are undefined without a reduction)."""
    return _case(name, "ScatterElements", "scatter", dt,
                 [("data", ("batch", 1024), _np(dt)), ("indices", ("batch", 256), "int64"),
                  ("updates", ("batch", 256), _np(dt))], [("y", ("batch", 1024), _np(dt))],
                 lambda: h.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], name=name, axis=1),
                 lambda data, idx, upd, *, consts: data.scatter(1, idx, upd), [_batch(4096)],
                 note="axis 1, reduction=none, unique indices per row")


def _scatter_nd(name, dt, reduction):
    def impl(data, idx, upd, *, consts):
        import torch

        if reduction == "add":
            return data.index_put(tuple(idx.unbind(-1)), upd, accumulate=True)
        flat = data.reshape(-1, data.shape[-1]).clone()
        rows = idx[..., 0] * data.shape[1] + idx[..., 1]
        index = rows.reshape(-1, 1).expand(-1, data.shape[-1])
        flat.scatter_reduce_(0, index, upd.reshape(-1, data.shape[-1]), reduce=_TORCH_REDUCE[reduction],
                             include_self=True)
        return flat.reshape(data.shape).to(torch.result_type(data, upd))

    return _case(name, "ScatterND", "scatter", dt,
                 [("data", ("batch", 4096, 64), _np(dt)), ("indices", ("batch", 2048, 2), "int64"),
                  ("updates", ("batch", 2048, 64), _np(dt))], [("y", ("batch", 4096, 64), _np(dt))],
                 lambda: h.make_node("ScatterND", ["data", "indices", "updates"], ["y"], name=name,
                                     reduction=reduction),
                 impl, [_batch(64)],
                 note=f"reduction={reduction}, index pairs (batch, row) with duplicates, 64-wide slices")


def _gather_elements(name, dt):
    return _case(name, "GatherElements", "scatter", dt,
                 [("x", ("batch", 1024, 64), _np(dt)), ("indices", ("batch", 256, 64), "int64")],
                 [("y", ("batch", 256, 64), _np(dt))],
                 lambda: h.make_node("GatherElements", ["x", "indices"], ["y"], name=name, axis=1),
                 lambda x, idx, *, consts: x.gather(1, idx), [_batch(256)], note="axis 1 (a middle axis)")


def _scatters() -> list[Case]:
    return [_scatter_elements("scatterelements_add_fp32", "fp32", "add"),
            _scatter_elements("scatterelements_add_fp16", "fp16", "add"),
            _scatter_elements("scatterelements_max_fp32", "fp32", "max"),
            _scatter_elements("scatterelements_min_fp16", "fp16", "min"),
            _scatter_elements("scatterelements_mul_fp32", "fp32", "mul"),
            _scatter_elements_rows("scatterelements_none_fp32", "fp32"),
            _scatter_nd("scatternd_add_dup_fp32", "fp32", "add"),
            _scatter_nd("scatternd_max_fp32", "fp32", "max"),
            _gather_elements("gatherelements_fp32", "fp32"), _gather_elements("gatherelements_fp16", "fp16")]


# --- OneHot, CumSum, TopK, ArgMax ------------------------------------------------------------------------------------
def _one_hot(name, dt, features=26, depth=1000):
    def impl(idx, *, consts):
        import torch

        values = consts["values"]
        idx = torch.where(idx < 0, idx + depth, idx)
        out = values[0].expand(*idx.shape, depth).clone()
        return out.scatter_(-1, idx.unsqueeze(-1), values[1].expand(*idx.shape, 1))

    return _case(name, "OneHot", "index", dt, [("idx", ("batch", features), "int64")],
                 [("y", ("batch", features, depth), _np(dt))],
                 lambda: h.make_node("OneHot", ["idx", "depth", "values"], ["y"], name=name, axis=-1), impl,
                 [_batch(2048)], lambda: {"depth": np.array(depth, np.int64), "values": np.array([0, 1], NP[dt])},
                 note=f"DLRM-style: {features} categorical features a row, depth {depth}")


def _cumsum(name, dt):
    return _case(name, "CumSum", "index", dt, [("x", ("batch", 4096), _np(dt))], [("y", ("batch", 4096), _np(dt))],
                 lambda: h.make_node("CumSum", ["x", "axis"], ["y"], name=name),
                 lambda x, *, consts: x.cumsum(dim=1), [_batch(1024)], lambda: {"axis": np.array(1, np.int64)},
                 note="CumSum along rows of 4096", summed_axes=(1,))  # a running sum: fp32 order error grows so


def _topk(name, dt, k=8):
    def impl(x, *, consts):
        return x.topk(k, dim=-1).values

    return _case(name, "TopK", "index", dt, [("x", ("batch", 1000), _np(dt))],
                 [("values", ("batch", k), _np(dt)), ("indices", ("batch", k), "int64")],
                 lambda: h.make_node("TopK", ["x", "k"], ["values", "indices"], name=name, axis=-1),
                 impl, [_batch(4096)], lambda: {"k": np.array([k], np.int64)},
                 note=f"top {k} of 1000 classes; the values are compared (indices may differ on ties)")


def _argmax(name, dt):
    return _case(name, "ArgMax", "index", dt, [("x", ("batch", 128, 1000), _np(dt))], [("y", ("batch", 128), "int64")],
                 lambda: h.make_node("ArgMax", ["x"], ["y"], name=name, axis=-1, keepdims=0),
                 lambda x, *, consts: x.argmax(dim=-1), [_batch(64 if dt == "fp32" else 128)],
                 note="over rows of 1000 (first of ties)")


def _indexing() -> list[Case]:
    return [_one_hot("onehot_26x1000_fp32", "fp32"), _one_hot("onehot_26x1000_fp16", "fp16"),
            _cumsum("cumsum_4096_fp32", "fp32"), _topk("topk8_fp32", "fp32"), _argmax("argmax_1000_fp32", "fp32"),
            _argmax("argmax_1000_fp16", "fp16")]


# --- elementwise chains, layout, pooling, normalization ---------------------------------------------------------------
def _where_mask(name, dt):
    shape = ("batch", 12, 128, 128)

    def impl(mask, x, *, consts):
        return x.masked_fill(~mask, -10000.0)

    return _case(name, "Where", "elementwise", dt, [("mask", ("batch", 1, 1, 128), "bool"), ("x", shape, _np(dt))],
                 [("y", shape, _np(dt))],
                 lambda: h.make_node("Where", ["mask", "x", "fill"], ["y"], name=name), impl, [_batch(64)],
                 lambda: {"fill": np.array(-10000.0, NP[dt])}, note="Where with a broadcast mask and a constant")


def _bias_gelu(name, dt):
    shape = ("batch", 128, 3072)

    def impl(x, *, consts):
        import torch.nn.functional as F

        return F.gelu(x + consts["bias"])

    return _case(name, "Add+Gelu", "elementwise", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: [h.make_node("Add", ["x", "bias"], ["xb"], name=f"{name}_add"),
                          h.make_node("Gelu", ["xb"], ["y"], name=name)],
                 impl, [_batch(64)], lambda: {"bias": _rng_array(3072, dt)},
                 note="bias Add (broadcast constant) fused with GELU")


def _affine(name, dt):
    shape = ("batch", 64, 56, 56)

    def impl(x, *, consts):
        return x * consts["scale"] + consts["shift"]

    return _case(name, "Mul+Add", "elementwise", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: [h.make_node("Mul", ["x", "scale"], ["xs"], name=f"{name}_mul"),
                          h.make_node("Add", ["xs", "shift"], ["y"], name=name)],
                 impl, [_batch(64)],
                 lambda: {"scale": _rng_array((64, 1, 1), dt, 0.1, 1.0), "shift": _rng_array((64, 1, 1), dt)},
                 note="per-channel scale and shift (broadcast constants), fused")


def _transpose(name, dt, shape, perm, opt):
    out = tuple(shape[p] for p in perm)
    return _case(name, "Transpose", "layout", dt, [("x", shape, _np(dt))], [("y", out, _np(dt))],
                 lambda: h.make_node("Transpose", ["x"], ["y"], name=name, perm=list(perm)),
                 lambda x, *, consts: x.permute(*perm).contiguous(), [_batch(opt)], note=f"perm {list(perm)}")


def _concat(name, dt):
    part = ("batch", 128, 256)
    return _case(name, "Concat", "layout", dt, [(n, part, _np(dt)) for n in ("a", "b", "c")],
                 [("y", ("batch", 128, 768), _np(dt))],
                 lambda: h.make_node("Concat", ["a", "b", "c"], ["y"], name=name, axis=-1),
                 lambda a, b, c, *, consts: __import__("torch").cat([a, b, c], dim=-1), [_batch(128)],
                 note="three parts on the last axis")


def _split(name, dt):
    part = ("batch", 128, 256)
    return _case(name, "Split", "layout", dt, [("x", ("batch", 128, 768), _np(dt))],
                 [(n, part, _np(dt)) for n in ("a", "b", "c")],
                 lambda: h.make_node("Split", ["x"], ["a", "b", "c"], name=name, axis=-1, num_outputs=3),
                 lambda x, *, consts: tuple(t.contiguous() for t in x.split(256, dim=-1)), [_batch(64)],
                 note="three equal parts of the last axis (num_outputs=3)")


def _pool(name, op, dt, shape, kernel, stride, pads, opt):
    n, c, hh, ww = shape
    oh, ow = ((hh + 2 * pads - kernel) // stride + 1, (ww + 2 * pads - kernel) // stride + 1)

    def impl(x, *, consts):
        import torch.nn.functional as F

        if op == "MaxPool":
            return F.max_pool2d(x, kernel, stride, pads)
        return F.avg_pool2d(x, kernel, stride, pads, count_include_pad=False)

    return _case(name, op, "pool", dt, [("x", shape, _np(dt))], [("y", (n, c, oh, ow), _np(dt))],
                 lambda: h.make_node(op, ["x"], ["y"], name=name, kernel_shape=[kernel, kernel],
                                     strides=[stride, stride], pads=[pads] * 4),
                 impl, [_batch(opt)], note=f"{kernel}x{kernel}, stride {stride}, pads {pads}")


def _instance_norm(name, dt):
    shape = ("batch", 64, 56, 56)

    def impl(x, *, consts):
        import torch.nn.functional as F

        return F.instance_norm(x.float(), weight=consts["scale"].float(), bias=consts["bias"].float(),
                               eps=1e-5).to(x.dtype)

    return _case(name, "InstanceNormalization", "norm", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: h.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], name=name,
                                     epsilon=1e-5),
                 impl, [_batch(64)], lambda: {"scale": _rng_array(64, dt, 0.1, 1.0), "bias": _rng_array(64, dt)},
                 note="rows of 56x56 per (image, channel)")


def _group_norm(name, dt, groups=32):
    shape = ("batch", 64, 56, 56)

    def impl(x, *, consts):
        import torch.nn.functional as F

        return F.group_norm(x.float(), groups, consts["scale"].float(), consts["bias"].float(), 1e-5).to(x.dtype)

    return _case(name, "GroupNormalization", "norm", dt, [("x", shape, _np(dt))], [("y", shape, _np(dt))],
                 lambda: h.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], name=name,
                                     epsilon=1e-5, num_groups=groups),
                 impl, [_batch(64)], lambda: {"scale": _rng_array(64, dt, 0.1, 1.0), "bias": _rng_array(64, dt)},
                 note=f"{groups} groups of 2 channels (opset 21: scale and bias per channel)", opset=21)


def _resize(name, dt):
    shape, out = ("batch", 64, 56, 56), ("batch", 64, 112, 112)

    def impl(x, *, consts):
        import torch.nn.functional as F

        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    return _case(name, "Resize", "layout", dt, [("x", shape, _np(dt))], [("y", out, _np(dt))],
                 lambda: h.make_node("Resize", ["x", "", "scales"], ["y"], name=name, mode="linear"),
                 impl, [_batch(32)], lambda: {"scales": np.array([1, 1, 2, 2], np.float32)},
                 note="linear ×2 (half_pixel), scales constant")


def _layout() -> list[Case]:
    return [_where_mask("where_mask_fp16", "fp16"), _bias_gelu("bias_gelu_fp16", "fp16"),
            _affine("affine_nchw_fp32", "fp32"),
            _transpose("transpose_0213_fp16", "fp16", ("batch", 128, 12, 64), (0, 2, 1, 3), 128),
            _transpose("transpose_021_fp32", "fp32", ("batch", 512, 512), (0, 2, 1), 64),
            _concat("concat3_fp16", "fp16"), _split("split3_fp32", "fp32"),
            _pool("maxpool_3x3s2_fp32", "MaxPool", "fp32", ("batch", 64, 112, 112), 3, 2, 1, 32),
            _pool("maxpool_3x3s2_fp16", "MaxPool", "fp16", ("batch", 64, 112, 112), 3, 2, 1, 32),
            _pool("avgpool_2x2s2_fp32", "AveragePool", "fp32", ("batch", 128, 56, 56), 2, 2, 0, 64),
            _instance_norm("instancenorm_fp32", "fp32"), _group_norm("groupnorm_fp16", "fp16"),
            _resize("resize_x2_fp32", "fp32")]


BREADTH: dict[str, Case] = {c.name: c for c in (*_reductions(), *_bert(), *_scatters(), *_indexing(), *_layout())}
