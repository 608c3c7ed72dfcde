"""Layers with weights or structure: dense, convolution, pooling, recurrent, attention,
normalisation, regularisation and reshaping.

Sizes that follow from the incoming tensor (in_features, in_channels, embedding dims) are
never parameters: the shape rule reads them from upstream, so the user sets only outputs.
"""
from __future__ import annotations

import torch
from torch import nn

from workbench.core import modules
from workbench.core.catalog import register
from workbench.core.spec import NodeSpec, Param, Port, ShapeError
from workbench.core.types import TensorType, format_shape, known, parse_dims, product

IN = (Port("in"),)
INIT = Param("init", "choice", "default", "How the weights start: PyTorch's default, or a named scheme.",
             choices=("default", "normal", "xavier_uniform", "xavier_normal",
                      "kaiming_uniform", "kaiming_normal"))
BIAS_INIT = Param("bias_init", "choice", "default", "How the biases start.", choices=("default", "zeros"))
BIAS = Param("bias", "bool", True, "Learn an additive bias.")


def _x(ins: dict) -> TensorType:
    return ins["in"]


def _float(t: TensorType) -> None:
    if t.dtype != "float32":
        raise ShapeError(f"expects float values, gets {t.dtype} ids {t}: add an Embedding first")


def _last_known(t: TensorType, what: str) -> int:
    if not known(t.shape[-1]):
        raise ShapeError(f"needs a known {what} size, gets {t}")
    return t.shape[-1]  # type: ignore[return-value]


# -- Dense --------------------------------------------------------------------------------

def _linear_infer(p, ins):
    t = _x(ins)
    _float(t)
    if t.rank not in (2, 3):
        hint = ": add Flatten" if t.rank > 3 else ""
        raise ShapeError(f"expects a 2-D input (batch, features) or a 3-D sequence "
                         f"(batch, steps, features), gets {t}{hint}")
    _last_known(t, "feature")
    return {"out": t.with_shape(*t.shape[:-1], p["out_features"])}


register(NodeSpec(
    "Linear", "Dense", "Fully connected layer: y = x·Wᵀ + b over the last dimension.",
    IN, params=(Param("out_features", "int", 64, "Number of outputs.", min=1, max=1_000_000),
                BIAS, INIT, BIAS_INIT),
    infer=_linear_infer,
    build=lambda p, ins: nn.Linear(ins["in"].shape[-1], p["out_features"], bias=p["bias"]),
    title="linear", width_param="out_features",
))


# -- Convolution and pooling ----------------------------------------------------------------

def _out_len(n, k, s, pad, d=1):
    return (n + 2 * pad - d * (k - 1) - 1) // s + 1


def _spatial(p, t: TensorType, dims: int, kind: str) -> tuple[int, ...]:
    want = 2 + dims
    layout = "(batch, channels, length)" if dims == 1 else "(batch, channels, height, width)"
    if t.rank != want:
        hint = ""
        if dims == 2 and t.rank == 2:
            hint = ": add Reshape to (channels, height, width)"
        elif dims == 1 and t.rank == 3:
            hint = ""
        raise ShapeError(f"expects a {want}-D input {layout}, gets {t}{hint}")
    if not known(*t.shape[2:]):
        raise ShapeError(f"needs known spatial sizes, gets {t}")
    k, s, pad, d = p["kernel_size"], p.get("stride") or p["kernel_size"], p.get("padding", 0), p.get("dilation", 1)
    if kind == "pool" and pad * 2 > k:
        raise ShapeError(f"padding {pad} must be at most half of kernel_size {k}")
    out = tuple(_out_len(n, k, s, pad, d) for n in t.shape[2:])
    if min(out) < 1:
        raise ShapeError(f"kernel {k} is larger than the input {t} allows (output would be "
                         f"{format_shape(out)}): use a smaller kernel or more padding")
    return out


def _conv(dims: int):
    cls = nn.Conv1d if dims == 1 else nn.Conv2d

    def infer(p, ins):
        t = _x(ins)
        _float(t)
        out = _spatial({**p, "stride": p["stride"]}, t, dims, "conv")
        channels = _last_known(t.with_shape(*t.shape[:2]), "channel")
        groups = p.get("groups", 1)
        for what, n in (("input channels", channels), ("out_channels", p["out_channels"])):
            if n % groups:
                raise ShapeError(f"groups {groups} must divide the {what} ({n})")
        mode = p.get("padding_mode", "zeros")
        if mode in ("reflect", "circular") and p["padding"] >= min(t.shape[2:]) + (mode == "circular"):
            raise ShapeError(f"padding {p['padding']} is too large for {mode} padding of {t}")
        return {"out": t.with_shape(t.shape[0], p["out_channels"], *out)}

    def build(p, ins):
        extra = {}  # only what differs from PyTorch's defaults, so model.py stays short
        if p.get("groups", 1) != 1:
            extra["groups"] = p["groups"]
        if p.get("padding_mode", "zeros") != "zeros":
            extra["padding_mode"] = p["padding_mode"]
        return cls(ins["in"].shape[1], p["out_channels"], p["kernel_size"], stride=p["stride"],
                   padding=p["padding"], dilation=p["dilation"], bias=p["bias"], **extra)

    layout = "(batch, channels, length)" if dims == 1 else "(batch, channels, height, width)"
    register(NodeSpec(
        f"Conv{dims}d", "Convolution",
        f"{dims}-D convolution over {layout}; in_channels comes from the input.",
        IN, params=(
            Param("out_channels", "int", 16, "Number of filters.", min=1, max=100_000),
            Param("kernel_size", "int", 3, "Width of each filter.", min=1, max=1024),
            Param("stride", "int", 1, "Step between filter positions.", min=1, max=1024),
            Param("padding", "int", 1, "Values added on each side (see padding_mode).", min=0, max=1024),
            Param("dilation", "int", 1, "Spacing between filter taps.", min=1, max=1024),
            Param("groups", "int", 1, "Channel groups: each filter sees in_channels/groups channels "
                  "(groups = in_channels is a depthwise convolution). Must divide the input and "
                  "output channels.", min=1, max=100_000),
            Param("padding_mode", "choice", "zeros", "What the padding holds: zeros, the mirrored "
                  "edge (reflect), the repeated edge (replicate) or the other side (circular).",
                  choices=("zeros", "reflect", "replicate", "circular")),
            BIAS, INIT, BIAS_INIT),
        infer=infer, build=build, title=f"conv{dims}d", channels_first=True))


_conv(1)
_conv(2)


def _pool(kind: str, dims: int):
    cls = {("Max", 1): nn.MaxPool1d, ("Max", 2): nn.MaxPool2d,
           ("Avg", 1): nn.AvgPool1d, ("Avg", 2): nn.AvgPool2d}[kind, dims]

    def infer(p, ins):
        t = _x(ins)
        _float(t)
        return {"out": t.with_shape(*t.shape[:2], *_spatial(p, t, dims, "pool"))}

    def build(p, ins):
        return cls(p["kernel_size"], stride=p["stride"] or p["kernel_size"], padding=p["padding"])

    register(NodeSpec(
        f"{kind}Pool{dims}d", "Pooling",
        f"{'Maximum' if kind == 'Max' else 'Average'} over windows of a {dims}-D signal.",
        IN, params=(
            Param("kernel_size", "int", 2, "Window size.", min=1, max=1024),
            Param("stride", "int", 0, "Step between windows (0 = the window size).", min=0, max=1024),
            Param("padding", "int", 0, "Padding on each side.", min=0, max=512)),
        infer=infer, build=build, title=f"{kind.lower()}pool", channels_first=True))


for _kind in ("Max", "Avg"):
    for _dims in (1, 2):
        _pool(_kind, _dims)


def _adaptive(dims: int):
    cls = nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d

    def infer(p, ins):
        t = _x(ins)
        _float(t)
        if t.rank != 2 + dims:
            raise ShapeError(f"expects a {2 + dims}-D input (batch, channels, ...), gets {t}")
        return {"out": t.with_shape(*t.shape[:2], *([p["output_size"]] * dims))}

    register(NodeSpec(
        f"AdaptiveAvgPool{dims}d", "Pooling",
        "Averages to a fixed output size whatever the input size (1 = global average pooling).",
        IN, params=(Param("output_size", "int", 1, "Output size per spatial dimension.", min=1, max=4096),),
        infer=infer, build=lambda p, ins: cls(p["output_size"]), title="adaptivepool",
        channels_first=True))


_adaptive(1)
_adaptive(2)


def _seqpool_infer(p, ins):
    t = _x(ins)
    _float(t)
    if t.rank != 3:
        raise ShapeError(f"expects a sequence (batch, steps, features), gets {t}")
    return {"out": t.with_shape(t.shape[0], t.shape[2])}


register(NodeSpec(
    "GlobalPool", "Pooling",
    "Pools a sequence over its steps: (batch, steps, features) → (batch, features). "
    "Mean pooling of word embeddings is the classic fast text classifier.",
    IN, params=(Param("mode", "choice", "mean", "Mean or maximum over the steps.", choices=("mean", "max")),
                Param("skip_padding", "bool", False, "Leave out all-zero steps (the padding an "
                      "Embedding makes of PAD ids), so short texts are not diluted.")),
    infer=_seqpool_infer, build=lambda p, ins: modules.SequencePool(p["mode"], p["skip_padding"]),
    title="pool"))


# -- Embedding, recurrent, attention -----------------------------------------------------------

def _embedding_infer(p, ins):
    t = _x(ins)
    if t.dtype != "int64":
        raise ShapeError(f"expects int64 token ids, gets float values {t}: set the Input's dtype to int64")
    size = p["num_embeddings"] or t.cardinality
    if not size:
        raise ShapeError("does not know the vocabulary size: load text data, or set num_embeddings")
    return {"out": TensorType((*t.shape, p["embedding_dim"]), "float32")}


def _zero_padding(embedding: nn.Embedding) -> None:
    """The PAD id's vector stays zero whatever the init scheme drew (GlobalPool's skip_padding
    recognises padding steps by it)."""
    with torch.no_grad():
        embedding.weight[embedding.padding_idx].zero_()


register(NodeSpec(
    "Embedding", "Dense",
    "Turns token ids into learned vectors: (batch, steps) → (batch, steps, embedding_dim). "
    "The vocabulary size comes from the data; id 0 is padding and stays zero.",
    IN, params=(
        Param("embedding_dim", "int", 64, "Length of each token's vector.", min=1, max=100_000),
        Param("num_embeddings", "int", 0, "Vocabulary size (0 = from the data).", min=0, max=50_000_000),
        INIT),
    infer=_embedding_infer,
    build=lambda p, ins: nn.Embedding(p["num_embeddings"] or ins["in"].cardinality, p["embedding_dim"],
                                      padding_idx=0),
    after_init=_zero_padding, title="embedding"))


def _recurrent(name: str, cls):
    def infer(p, ins):
        t = _x(ins)
        _float(t)
        if t.rank != 3:
            hint = ": add an Embedding before it" if t.rank == 2 else ""
            raise ShapeError(f"expects a sequence (batch, steps, features), gets {t}{hint}")
        _last_known(t, "feature")
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        if p["return"] == "last":
            return {"out": t.with_shape(t.shape[0], width)}
        return {"out": t.with_shape(t.shape[0], t.shape[1], width)}

    def build(p, ins):
        rnn = cls(ins["in"].shape[-1], p["hidden_size"], num_layers=p["num_layers"], batch_first=True,
                  bidirectional=p["bidirectional"], dropout=p["dropout"] if p["num_layers"] > 1 else 0.0)
        return modules.Recurrent(rnn, last=p["return"] == "last")

    register(NodeSpec(
        name, "Recurrent",
        f"{name} over a sequence (batch, steps, features). 'last' returns the final step "
        "(for classifying a sequence); 'all' returns every step (to stack more layers).",
        IN, params=(
            Param("hidden_size", "int", 64, "Size of the hidden state.", min=1, max=100_000),
            Param("num_layers", "int", 1, "Stacked layers.", min=1, max=16),
            Param("bidirectional", "bool", False, "Also read the sequence backwards."),
            Param("dropout", "float", 0.0, "Dropout between stacked layers.", min=0.0, max=0.99),
            Param("return", "choice", "last", "Return the last step or all steps.", choices=("last", "all")),
            INIT, BIAS_INIT),
        infer=infer, build=build, title=name.lower()))


_recurrent("RNN", nn.RNN)
_recurrent("LSTM", nn.LSTM)
_recurrent("GRU", nn.GRU)


def _seq_dim(p, ins, heads: int) -> TensorType:
    t = _x(ins)
    _float(t)
    if t.rank != 3:
        raise ShapeError(f"expects a sequence (batch, steps, features), gets {t}")
    dim = _last_known(t, "feature")
    if dim % heads:
        raise ShapeError(f"feature size {dim} must be divisible by num_heads {heads}")
    return t


register(NodeSpec(
    "MultiheadAttention", "Attention",
    "Multi-head self-attention: every step attends to every other; (batch, steps, dim) → same.",
    IN, params=(
        Param("num_heads", "int", 4, "Number of attention heads (must divide the feature size).", min=1, max=256),
        Param("dropout", "float", 0.0, "Dropout on attention weights.", min=0.0, max=0.99)),
    infer=lambda p, ins: {"out": _seq_dim(p, ins, p["num_heads"])},
    build=lambda p, ins: modules.SelfAttention(ins["in"].shape[-1], p["num_heads"], p["dropout"]),
    title="attention"))

register(NodeSpec(
    "TransformerEncoderLayer", "Attention",
    "One Transformer encoder block (self-attention + feed-forward, with residuals and "
    "LayerNorm): (batch, steps, dim) → same.",
    IN, params=(
        Param("num_heads", "int", 4, "Attention heads (must divide the feature size).", min=1, max=256),
        Param("dim_feedforward", "int", 128, "Width of the feed-forward part.", min=1, max=100_000),
        Param("dropout", "float", 0.1, "Dropout.", min=0.0, max=0.99),
        Param("activation", "choice", "relu", "Feed-forward activation.", choices=("relu", "gelu")),
        Param("norm_first", "bool", True, "LayerNorm before (pre-norm) rather than after.")),
    infer=lambda p, ins: {"out": _seq_dim(p, ins, p["num_heads"])},
    build=lambda p, ins: nn.TransformerEncoderLayer(
        ins["in"].shape[-1], p["num_heads"], p["dim_feedforward"], p["dropout"],
        activation=p["activation"], batch_first=True, norm_first=p["norm_first"]),
    title="encoder"))


def _posemb_infer(p, ins):
    t = _x(ins)
    _float(t)
    if t.rank != 3 or not known(t.shape[1], t.shape[2]):
        raise ShapeError(f"expects a sequence of known length (batch, steps, features), gets {t}")
    return {"out": t}


register(NodeSpec(
    "PositionalEmbedding", "Attention",
    "Adds a learned vector for each position, so attention knows word order.",
    IN, infer=_posemb_infer,
    build=lambda p, ins: modules.PositionalEmbedding(ins["in"].shape[1], ins["in"].shape[2]),
    title="positions"))


# -- Normalisation and regularisation ------------------------------------------------------------

def _bn(dims: int):
    cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    ranks = (2, 3) if dims == 1 else (4,)

    def infer(p, ins):
        t = _x(ins)
        _float(t)
        if t.rank not in ranks:
            want = "(batch, features) or (batch, channels, length)" if dims == 1 else \
                "(batch, channels, height, width)"
            raise ShapeError(f"expects {want}, gets {t}")
        if not known(t.shape[1]):
            raise ShapeError(f"needs a known channel size, gets {t}")
        return {"out": t}

    register(NodeSpec(
        f"BatchNorm{dims}d", "Normalisation",
        "Normalises each channel over the batch; learns a scale and shift.",
        IN, params=(Param("momentum", "float", 0.1, "Running statistics update rate.", min=0.0, max=1.0),
                    Param("eps", "float", 1e-5, "Added to the variance.", min=0.0, max=1.0)),
        infer=infer, build=lambda p, ins: cls(ins["in"].shape[1], eps=p["eps"], momentum=p["momentum"]),
        title="batchnorm", channels_first=True))


_bn(1)
_bn(2)


def _ln_infer(p, ins):
    t = _x(ins)
    _float(t)
    _last_known(t, "feature")
    return {"out": t}


def _lrn_infer(p, ins):
    t = _x(ins)
    _float(t)
    if t.rank < 3 or not known(t.shape[1]):
        raise ShapeError(f"expects (batch, channels, ...) with a known channel size, gets {t}")
    return {"out": t}


register(NodeSpec(
    "LRN", "Normalisation",
    "Local response normalisation (AlexNet, GoogLeNet): each value divided by the activity of "
    "its neighbouring channels, (k + alpha/size · Σ x²)^beta.",
    IN, params=(Param("size", "int", 5, "Number of neighbouring channels summed over.", min=1, max=1024),
                Param("alpha", "float", 1e-4, "Scale of the sum of squares.", min=0.0, max=1e6),
                Param("beta", "float", 0.75, "Exponent.", min=0.0, max=1e6),
                Param("k", "float", 1.0, "Added before the exponent.", min=0.0, max=1e6)),
    infer=_lrn_infer,
    build=lambda p, ins: nn.LocalResponseNorm(p["size"], alpha=p["alpha"], beta=p["beta"], k=p["k"]),
    title="lrn", channels_first=True))

register(NodeSpec(
    "LayerNorm", "Normalisation", "Normalises each sample over its last dimension.",
    IN, params=(Param("eps", "float", 1e-5, "Added to the variance.", min=0.0, max=1.0),),
    infer=_ln_infer, build=lambda p, ins: nn.LayerNorm(ins["in"].shape[-1], eps=p["eps"]),
    title="layernorm"))

register(NodeSpec(
    "Dropout", "Regularisation", "Zeroes a random fraction of values while training.",
    IN, params=(Param("p", "float", 0.5, "Fraction dropped.", min=0.0, max=0.99),),
    infer=lambda p, ins: {"out": _x(ins)}, build=lambda p, ins: nn.Dropout(p["p"]), title="dropout"))


# -- Reshape --------------------------------------------------------------------------------

def _flatten_infer(p, ins):
    t = _x(ins)
    return {"out": t.with_shape(t.shape[0], product(t.shape[1:]))}


register(NodeSpec(
    "Flatten", "Reshape", "Joins all dimensions after the batch into one: (batch, …) → (batch, features).",
    IN, infer=_flatten_infer, build=lambda p, ins: nn.Flatten(), title="flatten"))


def _reshape_infer(p, ins):
    t = _x(ins)
    shape = parse_dims(p["shape"])
    if not shape or not known(*shape):
        raise ShapeError("needs a target shape of whole numbers, e.g. 1,8,8")
    have, want = product(t.shape[1:]), product(shape)
    if known(have) and have != want:
        raise ShapeError(f"cannot reshape {t} ({have} values per sample) to "
                         f"{format_shape(('batch', *shape))} ({want} values)")
    return {"out": t.with_shape(t.shape[0], *shape)}


register(NodeSpec(
    "Reshape", "Reshape", "Gives each sample a new shape with the same number of values, e.g. 64 → 1,8,8.",
    IN, params=(Param("shape", "dims", "1,8,8", "New shape of one sample (without the batch)."),),
    infer=_reshape_infer, build=lambda p, ins: modules.Reshape(parse_dims(p["shape"])), title="reshape"))


def _transpose_infer(p, ins):
    t = _x(ins)
    a, b = p["dim0"], p["dim1"]
    if max(a, b) >= t.rank:
        raise ShapeError(f"cannot swap dimensions {a} and {b} of {t} (it has {t.rank})")
    shape = list(t.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return {"out": t.with_shape(*shape)}


register(NodeSpec(
    "Transpose", "Reshape",
    "Swaps two dimensions (1 is the first after the batch): e.g. (batch, steps, channels) → "
    "(batch, channels, steps) before a Conv1d.",
    IN, params=(Param("dim0", "int", 1, "First dimension.", min=1, max=7),
                Param("dim1", "int", 2, "Second dimension.", min=1, max=7)),
    infer=_transpose_infer, build=lambda p, ins: modules.Transpose(p["dim0"], p["dim1"]), title="transpose"))
