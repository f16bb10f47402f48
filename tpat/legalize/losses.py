"""Losses without a stock converter: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (its log_softmax
followed by the same NLL), on relax's own nll_loss op.

ONNX leaves `ignore_index` unset when no class is ignored; relax's op always ignores one index, so an unset one
becomes a value no valid label can take (labels index classes, so they are never negative). The sum and the mean
are taken over the per-element losses with relax's sum: nll_loss's own reduction is one reduction over every axis
at once, which no GPU schedule rule takes (it would run one thread per element, from host loops).
"""

from __future__ import annotations

from tvm import relax
from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter

NO_INDEX = -(2**31)


def _nll(bb, log_prob, labels, weights, attr):
    reduction = attr.get("reduction", b"mean")
    reduction = reduction.decode() if isinstance(reduction, bytes) else reduction
    ignore = int(attr.get("ignore_index", NO_INDEX))
    losses = bb.normalize(relax.op.nn.nll_loss(log_prob, labels, weights, "none", ignore))
    if reduction == "none":
        return losses
    total = relax.op.sum(losses)
    if reduction == "sum":
        return total
    kept = relax.op.not_equal(labels, relax.const(ignore, str(labels.ty.dtype)))
    if weights is None:
        counted = relax.op.astype(kept, str(log_prob.ty.dtype))
    else:
        safe = relax.op.where(kept, labels, relax.op.zeros_like(labels))
        counted = relax.op.where(kept, relax.op.take(weights, safe, axis=0),
                                 relax.op.zeros(labels.ty.shape, str(weights.ty.dtype)))
    return total / relax.op.sum(counted)


class NegativeLogLikelihoodLoss(OnnxOpConverter):
    @classmethod
    def _impl_v12(cls, bb, inputs, attr, params):
        weights = inputs[2] if len(inputs) > 2 else None
        return _nll(bb, inputs[0], inputs[1], weights, attr)


class SoftmaxCrossEntropyLoss(OnnxOpConverter):
    @classmethod
    def _impl_v12(cls, bb, inputs, attr, params):
        log_prob = bb.normalize(relax.op.nn.log_softmax(inputs[0], axis=1))
        weights = inputs[2] if len(inputs) > 2 else None
        loss = _nll(bb, log_prob, inputs[1], weights, attr)
        if attr["tvm_custom"]["num_outputs"] > 1:
            return relax.Tuple([loss, log_prob])
        return loss


CONVERTERS = {"NegativeLogLikelihoodLoss": NegativeLogLikelihoodLoss,
              "SoftmaxCrossEntropyLoss": SoftmaxCrossEntropyLoss}
