"""ONNX's Attention (opset 23+) and RotaryEmbedding, written out in relax ops after ONNX's reference.

TVM's frontend maps "Attention" to the com.microsoft contrib op (it reads `num_heads`, which ONNX's op does not
have): that form still goes to the stock converter. ONNX's op: 3-D inputs split into heads (q_num_heads,
kv_num_heads), scale sqrt-split over Q and K, the KV cache appended (present_key/value), a boolean or additive
mask padded to the key length, causal masking aligned bottom-right (offset by the cache or by nonpad_kv_seqlen),
the sliding window (opset 25), grouped-query heads repeated, softcap, softmax in softmax_precision with rows that
attend no key set to zero, and qk_matmul_output in its four modes.
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx import onnx_frontend as stock

from .common import const, dtype, shape

NEG_INF = float("-inf")


def _heads(bb, x, heads: int):
    """[B, S, H*D] -> [B, H, S, D]"""
    b, s, hidden = shape(x)
    x = relax.op.reshape(x, [b, s, heads, hidden // heads])
    return bb.normalize(relax.op.permute_dims(x, [0, 2, 1, 3]))


def _additive(bb, mask, like):
    """A boolean mask as 0 (attend) / -inf (not); a float one as it is."""
    if dtype(mask) == "bool":
        return bb.normalize(relax.op.where(mask, const(0.0, like), const(NEG_INF, like)))
    return mask


def _positions(bb, n: int, axis: int):
    """0..n-1 as int64 laid out along `axis` of a 2-D tensor ([n, 1] or [1, n])."""
    idx = relax.op.arange(0, n, 1, "int64")
    return bb.normalize(relax.op.expand_dims(idx, 1 - axis))


class Attention(stock.Attention):
    @classmethod
    def get_converter(cls, opset):
        contrib = super().get_converter(opset)

        def convert(bb, inputs, attr, params):
            if "num_heads" in attr:  # com.microsoft's Attention
                return contrib(bb, inputs, attr, params)
            return _attention(bb, inputs, attr)

        return convert


def _attention(bb, inputs, attr):
    arg = lambda i: inputs[i] if len(inputs) > i else None  # noqa: E731
    q, k, v, mask, past_k, past_v, nonpad = (arg(i) for i in range(7))
    rank = q.ty.ndim
    if rank == 3:
        q, k, v = _heads(bb, q, attr["q_num_heads"]), _heads(bb, k, attr["kv_num_heads"]), \
            _heads(bb, v, attr["kv_num_heads"])
    batch, q_heads, q_len, head = shape(q)
    scale = attr.get("scale", 1.0 / head ** 0.5)
    root = const(float(scale) ** 0.5, q)
    if past_k is not None:
        k = bb.normalize(relax.op.concat([past_k, k], axis=2))
        v = bb.normalize(relax.op.concat([past_v, v], axis=2))
    present_k, present_v = k, v
    kv_len = shape(k)[2]
    # masks, scores and softmax of bfloat16 attention in float32: TVM's CUDA prints a bfloat16 -inf as `inff`
    work = "float32" if dtype(q) == "bfloat16" else dtype(q)
    like = bb.normalize(relax.op.zeros((1,), work))
    bias = bb.normalize(relax.op.zeros((q_len, kv_len), work))
    if mask is not None and dtype(mask) not in ("bool", work):
        mask = bb.normalize(relax.op.astype(mask, work))
    if mask is not None and shape(mask)[-1] < kv_len:  # pad the mask up to the keys (cache included)
        pad = list(shape(mask))
        pad[-1] = kv_len - pad[-1]
        fill = relax.op.zeros(pad, dtype(mask))  # False: not attended
        if dtype(mask) != "bool":
            fill = fill + const(NEG_INF, mask)
        mask = bb.normalize(relax.op.concat([mask, fill], axis=-1))
    offset = None  # where causal and window masks are aligned: a number, or one per batch ([B, 1, 1])
    if past_k is not None:
        offset = shape(past_k)[2]
    elif nonpad is not None:
        offset = bb.normalize(relax.op.reshape(relax.op.astype(nonpad, "int64") - relax.const(q_len, "int64"),
                                               [batch, 1, 1]))
    else:
        offset = 0
    base = _additive(bb, mask, like) if mask is not None else None
    if attr.get("is_causal", 0):
        base = bias if base is None else base
        bias = bb.normalize(base + _band(bb, q_len, kv_len, offset, 0, -1, like))
    elif base is not None:
        bias = bb.normalize(bias + base)
    left, right = attr.get("left_window_size", -1), attr.get("right_window_size", -1)
    if left >= 0 or right >= 0:
        bias = bb.normalize(bias + _band(bb, q_len, kv_len, offset, left, right, like, window=True))
    if nonpad is not None:
        keys = relax.op.reshape(relax.op.arange(0, kv_len, 1, "int64"), [1, 1, 1, kv_len])
        lens = relax.op.reshape(relax.op.astype(nonpad, "int64"), [batch, 1, 1, 1])
        pad_mask = relax.op.where(relax.op.less(keys, lens), const(0.0, like), const(NEG_INF, like))
        bias = bb.normalize(bias + pad_mask)
    kv_heads = shape(k)[1]
    if q_heads != kv_heads:  # grouped-query attention: each KV head serves q_heads / kv_heads query heads
        k = relax.op.repeat(k, q_heads // kv_heads, axis=1)
        v = relax.op.repeat(v, q_heads // kv_heads, axis=1)
    qk = bb.normalize(relax.op.matmul(q * root, relax.op.permute_dims(k * root, [0, 1, 3, 2])))
    qk = bb.normalize(relax.op.astype(qk, work)) if work != dtype(q) else qk
    softcap = attr.get("softcap")
    if softcap is not None and softcap > 0:
        qk = bb.normalize(relax.op.tanh(qk / const(softcap, qk)) * const(softcap, qk))
    mode = attr.get("qk_matmul_output_mode", 0)
    with_bias = bb.normalize(qk + bias)
    qk_out = with_bias if mode == 2 else qk
    if attr.get("softmax_precision") is not None:
        with_bias = bb.normalize(relax.op.astype(with_bias, stock.get_type(attr["softmax_precision"])))
    probs = _softmax(bb, with_bias)
    masked_rows = relax.op.equal(relax.op.max(bias, axis=-1, keepdims=True), const(NEG_INF, bias))
    probs = bb.normalize(relax.op.where(masked_rows, relax.op.zeros_like(probs), probs))
    if mode == 3:
        qk_out = probs
    probs = relax.op.astype(probs, dtype(q)) if dtype(probs) != dtype(q) else probs
    y = bb.normalize(relax.op.matmul(probs, v))
    if rank == 3:
        b, h, s, d = shape(y)
        y = relax.op.reshape(relax.op.permute_dims(y, [0, 2, 1, 3]), [b, s, h * d])
    qk_out = relax.op.astype(qk_out, dtype(q)) if dtype(qk_out) != dtype(q) else qk_out
    return relax.Tuple([y, present_k, present_v, qk_out])


def _band(bb, q_len: int, kv_len: int, offset, left: int, right: int, like, window: bool = False):
    """0 where query i may attend key j, -inf elsewhere. Causal: j <= i + offset. Window: -left <= i + offset - j
    <= right (a negative bound is unbounded). `offset` is a number or a per-batch [B, 1, 1] tensor."""
    i, j = _positions(bb, q_len, 0), _positions(bb, kv_len, 1)
    pos = i + (relax.const(offset, "int64") if isinstance(offset, int) else offset)
    diff = bb.normalize(pos - j)  # [q, kv] or [B, q, kv]
    zero = relax.const(0, "int64")
    if not window:
        allowed = relax.op.greater_equal(diff, zero)
    else:
        conditions = []
        if left >= 0:
            conditions.append(relax.op.less_equal(diff, relax.const(left, "int64")))
        if right >= 0:
            conditions.append(relax.op.less_equal(relax.op.negative(diff), relax.const(right, "int64")))
        allowed = conditions[0] if len(conditions) == 1 else relax.op.logical_and(*conditions)
    band = bb.normalize(relax.op.where(allowed, const(0.0, like), const(NEG_INF, like)))
    if not isinstance(offset, int):  # [B, q, kv] -> [B, 1, q, kv]: the head axis stays the mask's
        band = relax.op.expand_dims(band, 1)
    return band


def _softmax(bb, x):
    """Softmax over the last axis whose all -inf rows give zeros (not NaN), as ONNX's reference."""
    m = bb.normalize(relax.op.max(x, axis=-1, keepdims=True))
    safe = relax.op.where(relax.op.equal(m, const(NEG_INF, x)), relax.op.zeros_like(m), m)
    e = bb.normalize(relax.op.exp(x - safe))
    s = bb.normalize(relax.op.sum(e, axis=-1, keepdims=True))
    s = relax.op.where(relax.op.equal(s, const(0.0, s)), relax.op.ones_like(s), s)
    return bb.normalize(e / s)


class RotaryEmbedding(stock.OnnxOpConverter):
    @classmethod
    def _impl_v23(cls, bb, inputs, attr, params):
        x, cos, sin = inputs[0], inputs[1], inputs[2]
        positions = inputs[3] if len(inputs) > 3 else None
        original = shape(x)
        if len(original) == 4:  # [B, H, S, D] -> [B, S, H, D]
            x = relax.op.permute_dims(x, [0, 2, 1, 3])
        else:  # [B, S, H*D] -> [B, S, H, D]
            heads = attr["num_heads"]
            x = relax.op.reshape(x, [original[0], original[1], heads, original[2] // heads])
        x = bb.normalize(x)
        b, s, h, d = shape(x)
        rot = attr.get("rotary_embedding_dim", 0) or d
        if positions is not None:  # caches indexed by position: [B, S, rot/2]
            cos, sin = relax.op.take(cos, positions, axis=0), relax.op.take(sin, positions, axis=0)
        cos = bb.normalize(relax.op.expand_dims(cos, 2))
        sin = bb.normalize(relax.op.expand_dims(sin, 2))
        rotate = relax.op.strided_slice(x, [3], [0], [rot])
        keep = relax.op.strided_slice(x, [3], [rot], [d]) if rot < d else None
        if attr.get("interleaved", 0):
            x1 = relax.op.strided_slice(rotate, [3], [0], [rot], [2])
            x2 = relax.op.strided_slice(rotate, [3], [1], [rot], [2])
        else:
            x1 = relax.op.strided_slice(rotate, [3], [0], [rot // 2])
            x2 = relax.op.strided_slice(rotate, [3], [rot // 2], [rot])
        x1, x2 = bb.normalize(x1), bb.normalize(x2)
        real = cos * x1 - sin * x2
        imag = sin * x1 + cos * x2
        if attr.get("interleaved", 0):  # back to (real, imag) pairs
            pairs = relax.op.stack([real, imag], axis=4)
            out = relax.op.reshape(pairs, [b, s, h, rot])
        else:
            out = relax.op.concat([real, imag], axis=3)
        if keep is not None:
            out = relax.op.concat([out, keep], axis=3)
        if len(original) == 4:
            return relax.op.permute_dims(out, [0, 2, 1, 3])
        return relax.op.reshape(out, original)


CONVERTERS = {"Attention": Attention, "RotaryEmbedding": RotaryEmbedding}
