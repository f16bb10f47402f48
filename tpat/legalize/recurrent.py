"""RNN, GRU and LSTM (no stock converter), unrolled over the sequence, which a plugin's static shapes fix.

The input projection of every step is one matrix product (X * W^T + Wb for the whole sequence); each step then
adds H * R^T and applies the gates, elementwise work TVM fuses. Directions run separately and stack; with
`sequence_lens`, a step past a sequence's end keeps its state and writes zeros to Y, which also makes a reverse
pass start at each sequence's own last element. Gate order as ONNX: LSTM i, o, f, c; GRU z, r, h.
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

from .common import const, dtype, shape

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def _activation(name: str, alpha, beta):
    """ONNX's activation functions of recurrent ops, by name (alpha/beta where they take them)."""
    name = name.decode() if isinstance(name, bytes) else name
    a = lambda x, v: const(v, x)  # noqa: E731
    table = {
        "sigmoid": lambda x: relax.op.sigmoid(x),
        "tanh": lambda x: relax.op.tanh(x),
        "relu": lambda x: relax.op.nn.relu(x),
        "affine": lambda x: a(x, alpha) * x + a(x, beta),
        "leakyrelu": lambda x: relax.op.where(relax.op.less(x, a(x, 0.0)), a(x, alpha) * x, x),
        "thresholdedrelu": lambda x: relax.op.where(relax.op.greater(x, a(x, alpha)), x, a(x, 0.0) * x),
        "scaledtanh": lambda x: a(x, alpha) * relax.op.tanh(a(x, beta) * x),
        "hardsigmoid": lambda x: relax.op.clip(a(x, alpha) * x + a(x, beta), 0.0, 1.0),
        "elu": lambda x: relax.op.where(relax.op.less(x, a(x, 0.0)), a(x, alpha) * (relax.op.exp(x) - a(x, 1.0)), x),
        "softsign": lambda x: x / (a(x, 1.0) + relax.op.abs(x)),
        "softplus": lambda x: relax.op.log(relax.op.exp(x) + a(x, 1.0)),
    }
    if name.lower() not in table:
        raise ValueError(f"recurrent activation {name!r} is not one ONNX defines")
    return table[name.lower()]


def _activations(op: str, attr, directions: int) -> list[list]:
    """Per direction, the op's activation functions with their alpha/beta (consumed in order, as ONNX lists)."""
    names = [n.decode() if isinstance(n, bytes) else n for n in attr.get("activations", [])]
    per = len(DEFAULTS[op])
    names = names or DEFAULTS[op] * directions
    if len(names) == per and directions == 2:
        names = names * 2
    alphas, betas = list(attr.get("activation_alpha", [])), list(attr.get("activation_beta", []))
    defaults = {"leakyrelu": (0.01, 0.0), "thresholdedrelu": (1.0, 0.0), "scaledtanh": (1.0, 1.0),
                "hardsigmoid": (0.2, 0.5), "elu": (1.0, 0.0), "affine": (1.0, 0.0)}
    funcs = []
    for name in names:
        alpha, beta = defaults.get(name.lower(), (0.0, 0.0))
        if name.lower() in defaults and alphas:
            alpha = alphas.pop(0)
        if name.lower() in ("scaledtanh", "hardsigmoid", "affine") and betas:
            beta = betas.pop(0)
        funcs.append(_activation(name, alpha, beta))
    return [funcs[d * per:(d + 1) * per] for d in range(directions)]


class _Recurrent(OnnxOpConverter):
    op = ""

    @classmethod
    def _impl_v7(cls, bb, inputs, attr, params):
        x, w, r = inputs[0], inputs[1], inputs[2]
        opt = lambda i: inputs[i] if len(inputs) > i and inputs[i] is not None else None  # noqa: E731
        b, lens, h0 = opt(3), opt(4), opt(5)
        c0, p = (opt(6), opt(7)) if cls.op == "LSTM" else (None, None)
        hidden = int(attr["hidden_size"])
        layout = int(attr.get("layout", 0))
        direction = attr.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        directions = 2 if direction == "bidirectional" else 1
        clip = attr.get("clip")
        if layout == 1:  # [batch, seq, input] -> [seq, batch, input]
            x = bb.normalize(relax.op.permute_dims(x, [1, 0, 2]))
        seq, batch, _ = shape(x)
        gates = GATES[cls.op]
        acts = _activations(cls.op, attr, directions)
        ys, hs, cs = [], [], []
        for d in range(directions):
            wd, rd = relax.op.take(w, relax.const(d, "int64"), 0), relax.op.take(r, relax.const(d, "int64"), 0)
            xw = relax.op.matmul(x, relax.op.permute_dims(wd, [1, 0]))  # [seq, batch, gates * hidden]
            wb = rb = None
            if b is not None:
                bd = bb.normalize(relax.op.take(b, relax.const(d, "int64"), 0))
                wb = relax.op.strided_slice(bd, [0], [0], [gates * hidden])
                rb = relax.op.strided_slice(bd, [0], [gates * hidden], [2 * gates * hidden])
                xw = xw + wb
            xw = bb.normalize(xw)
            state = {"h": _initial(h0, d, batch, hidden, x), "c": _initial(c0, d, batch, hidden, x)}
            reverse = direction == "reverse" or d == 1
            steps = range(seq - 1, -1, -1) if reverse else range(seq)
            outputs = [None] * seq
            rt = bb.normalize(relax.op.permute_dims(rd, [1, 0]))
            pd = bb.normalize(relax.op.take(p, relax.const(d, "int64"), 0)) if p is not None else None
            for t in steps:
                xt = bb.normalize(relax.op.take(xw, relax.const(t, "int64"), 0))
                h_new, c_new = cls._step(bb, xt, state, rt, rb, pd, acts[d], hidden, clip, attr)
                if lens is not None:
                    valid = relax.op.expand_dims(relax.op.less(relax.const(t, dtype(lens)), lens), 1)
                    y = relax.op.where(valid, h_new, relax.op.zeros_like(h_new))
                    h_new = relax.op.where(valid, h_new, state["h"])
                    c_new = relax.op.where(valid, c_new, state["c"]) if c_new is not None else None
                else:
                    y = h_new
                state = {"h": bb.normalize(h_new), "c": bb.normalize(c_new) if c_new is not None else None}
                outputs[t] = bb.normalize(y)
            ys.append(relax.op.stack(outputs, 0))  # [seq, batch, hidden]
            hs.append(state["h"])
            cs.append(state["c"])
        y = relax.op.stack(ys, 1)  # [seq, directions, batch, hidden]
        y_h, y_c = relax.op.stack(hs, 0), (relax.op.stack(cs, 0) if cls.op == "LSTM" else None)
        if layout == 1:  # Y [batch, seq, directions, hidden], Y_h/Y_c [batch, directions, hidden]
            y = relax.op.permute_dims(y, [2, 0, 1, 3])
            y_h = relax.op.permute_dims(y_h, [1, 0, 2])
            y_c = relax.op.permute_dims(y_c, [1, 0, 2]) if y_c is not None else None
        return relax.Tuple([y, y_h] + ([y_c] if y_c is not None else []))


def _initial(h0, d: int, batch: int, hidden: int, like):
    if h0 is None:
        return relax.op.zeros((batch, hidden), dtype(like))
    return relax.op.take(h0, relax.const(d, "int64"), 0)


def _clipped(x, clip):
    return relax.op.clip(x, -float(clip), float(clip)) if clip is not None else x


def _split(bb, x, n: int) -> list:
    parts = bb.normalize(relax.op.split(x, n, axis=-1))
    return [relax.TupleGetItem(parts, i) for i in range(n)]


class RNN(_Recurrent):
    op = "RNN"

    @staticmethod
    def _step(bb, xt, state, rt, rb, p, acts, hidden, clip, attr):
        pre = xt + relax.op.matmul(state["h"], rt)
        pre = pre + rb if rb is not None else pre
        return acts[0](_clipped(pre, clip)), None


class GRU(_Recurrent):
    op = "GRU"

    @staticmethod
    def _step(bb, xt, state, rt, rb, p, acts, hidden, clip, attr):
        f, g = acts
        h = state["h"]
        xz, xr, xh = _split(bb, xt, 3)
        rz, rr, rh = _split(bb, rt, 3)  # R^T columns: [hidden, 3 * hidden]
        bz, br, bh = _split(bb, rb, 3) if rb is not None else (None, None, None)
        add = lambda a, bias: a + bias if bias is not None else a  # noqa: E731
        z = f(_clipped(add(xz + relax.op.matmul(h, rz), bz), clip))
        r = f(_clipped(add(xr + relax.op.matmul(h, rr), br), clip))
        if int(attr.get("linear_before_reset", 0)):
            hh = g(_clipped(xh + r * add(relax.op.matmul(h, rh), bh), clip))
        else:
            hh = g(_clipped(add(xh + relax.op.matmul(r * h, rh), bh), clip))
        return (const(1.0, xt) - z) * hh + z * h, None


class LSTM(_Recurrent):
    op = "LSTM"

    @staticmethod
    def _step(bb, xt, state, rt, rb, p, acts, hidden, clip, attr):
        f, g, h_act = acts
        pre = xt + relax.op.matmul(state["h"], rt)
        pre = bb.normalize(pre + rb if rb is not None else pre)
        i, o, fg, c = _split(bb, pre, 4)
        c_prev = state["c"]
        pi, po, pf = _split(bb, p, 3) if p is not None else (None, None, None)
        peep = lambda gate, pw, cell: gate + pw * cell if pw is not None else gate  # noqa: E731
        i = f(_clipped(peep(i, pi, c_prev), clip))
        fg = const(1.0, xt) - i if int(attr.get("input_forget", 0)) else f(_clipped(peep(fg, pf, c_prev), clip))
        c = bb.normalize(fg * c_prev + i * g(_clipped(c, clip)))
        o = f(_clipped(peep(o, po, c), clip))
        return o * h_act(c), c


CONVERTERS = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM}
