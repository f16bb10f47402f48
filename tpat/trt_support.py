"""Which ONNX ops TensorRT's ONNX parser imports natively, so `tpat inspect` can say what needs a plugin.

Source: `docs/operators.md` ("Operator Support Matrix") of the repository onnx/onnx-tensorrt at commit
6bde6596eca84abf9afe9b4d21c18c32800fd3ad -- the `parsers/onnx` submodule pinned by NVIDIA/TensorRT tag v10.16
(2026-03-25), whose header reads "TensorRT 10.16 supports operators in the inclusive range of opset 9 to opset 24".
Read on 2026-11-25 and restated here in our own format: op names, Y/N, and a short paraphrase of the
restriction column. Data types are left out. Cross-checked against the same file for TensorRT 10.15 (fa5aa9f6,
identical list) and 11.1 (7c51a63a, which only adds `Swish` as supported); the older 10.1-GA copy (96e78110)
still marked several of these ops differently, so the table is version-specific.

Ops missing from the doc count as unsupported, and so does every op of a domain other than the default ONNX one
(TensorRT looks those up in its plugin registry, which is exactly what a tpat plugin provides). A few restrictions
can be decided from one node alone; `tpat.inspect` checks those (e.g. ScatterND with `reduction="add"`).
"""

from __future__ import annotations

from dataclasses import dataclass

TRT_VERSION = "10.16"
SOURCE = ("onnx/onnx-tensorrt", "docs/operators.md", "6bde6596eca84abf9afe9b4d21c18c32800fd3ad")
DEFAULT_DOMAINS = ("", "ai.onnx")

# Marked "Y" in the doc.
_SUPPORTED = """
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization BlackmanWindow
Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DeformConv
DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample
GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If ImageScaler
InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression
NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RMSNormalization RNN RoiAlign
RotaryEmbedding Round STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin
Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh TensorScatter
ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split()

# Marked "N" in the doc (listed so that "the doc says no" and "the doc does not mention it" stay apart).
_UNSUPPORTED = """
AffineGrid Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor Col2Im CenterCropPad Compress
ConcatFromSequence ConvInteger DFT Det DynamicQuantizeLinear ImageDecoder MatMulInteger MaxRoiPool MaxUnpool
MelWeightMatrix Multinomial NegativeLogLikelihoodLoss Optional OptionalGetElement OptionalHasElement QLinearConv
QLinearMatMul RegexFullMatch SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength
SequenceMap SoftmaxCrossEntropyLoss SplitToSequence StringConcat StringNormalizer StringSplit TfIdfVectorizer Unique
""".split()

_REDUCE_NOTE = "axes must be an initializer"

# The restriction column, paraphrased. Ops without an entry have no restriction beyond data types.
RESTRICTIONS: dict[str, str] = {
    "Attention": "Q/K/V and attn_mask 4D; no past_key/past_value/nonpad_kv_seqlen inputs, no present_* or "
                 "qk_matmul_output outputs; qk_matmul_output_mode and softcap unsupported",
    "AveragePool": "2D or 3D only; dilations empty or all ones",
    "Constant": "sparse_value and string values unsupported",
    "CumSum": "axis must be a build-time constant",
    "DeformConv": "1D or 2D spatial input; begin and end pads equal per axis",
    "DequantizeLinear": "x_zero_point must be zero",
    "Dropout": "is_training must be an initializer that is false",
    "DynamicQuantizeLinear": "not supported; compose it from ONNX ops in a local function",
    "EyeLike": "input must have static dims",
    "GridSample": "input must be 4D",
    "GRU": "bidirectional: same activations both ways",
    "Hardmax": "the axis dim must be a build-time constant",
    "If": "both branches' outputs need the same rank and different names",
    "LayerNormalization": "only the first output (Y) is supported",
    "Loop": "scan output length cannot be dynamic; loop-carried shapes must not change",
    "LpPool": "dilations empty or all ones",
    "LSTM": "bidirectional: same activations both ways; input_forget=0; layout=0",
    "MaxPool": "2D or 3D only; no Indices output; dilations empty or all ones",
    "OneHot": "depth must be a build-time constant",
    "QuantizeLinear": "y_zero_point must be 0",
    "RandomNormal": "seed is ignored",
    "RandomNormalLike": "seed is ignored",
    "RandomUniform": "seed is ignored",
    "RandomUniformLike": "seed is ignored",
    **{f"Reduce{k}": _REDUCE_NOTE for k in ("L1", "L2", "LogSum", "LogSumExp", "Max", "Mean", "Min", "Prod", "Sum",
                                            "SumSquare")},
    "Resize": "some coordinate-transformation/nearest modes only; stretch aspect policy; no antialias",
    "RNN": "bidirectional: same activations both ways",
    "RotaryEmbedding": "position_ids must be int64",
    "STFT": "frame_step and window must be initializers; real input only",
    "ScatterND": "reduction must be 'none'",
    "Squeeze": "axes must resolve to a constant",
    "TensorScatter": "past_cache and update 4D; axis must be -2",
    "TopK": "sorted must be 1; K < 3840",
    "Unsqueeze": "axes must resolve to a constant",
}

SUPPORTED = frozenset(_SUPPORTED)
UNSUPPORTED = frozenset(_UNSUPPORTED)


@dataclass(frozen=True)
class Support:
    """How TensorRT's parser treats one op type: `native` is True when the doc marks it "Y"."""

    op_type: str
    domain: str
    native: bool
    listed: bool  # False: the doc does not mention it (or it is a custom domain)
    note: str = ""


def lookup(op_type: str, domain: str = "") -> Support:
    """What the support table says about `op_type` (in `domain`)::

        lookup("OneHot").native        # True, with note "depth must be a build-time constant"
        lookup("Foo", "com.acme").native  # False: custom domains need a plugin
    """
    if domain not in DEFAULT_DOMAINS:
        return Support(op_type, domain, False, False, f"custom domain {domain!r}: TensorRT needs a plugin for it")
    note = RESTRICTIONS.get(op_type, "")
    if op_type in SUPPORTED:
        return Support(op_type, domain, True, True, note)
    if op_type in UNSUPPORTED:
        return Support(op_type, domain, False, True, note)
    return Support(op_type, domain, False, False, "not in the TensorRT operator list")
