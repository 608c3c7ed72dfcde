"""Which torch.nn layers become which catalog nodes, and the torch.fx tracer that stops at
exactly those (everything else is traced through, down to functions an Opaque node can call).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from torch import fx, nn

from workbench.core import catalog


# -- mapping torch.nn modules to catalog nodes ------------------------------------------------

@dataclass
class Mapped:
    type: str
    params: dict
    prefix: str = ""        # the catalog module's state_dict key prefix for the torch module's


def _same(value, what: str):
    """An int from an int or a tuple of equal ints (a square kernel); else raise."""
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)) and value and all(v == value[0] for v in value) \
            and isinstance(value[0], int):
        return value[0]
    raise NoNode(f"{what} {tuple(value) if isinstance(value, (tuple, list)) else value!r} "
                  "is not the same along every dimension")


class NoNode(Exception):
    """This module/function has no catalog node as configured; the message says why."""


def _has_param(type_name: str, param: str) -> bool:
    spec = catalog.find(type_name)
    return spec is not None and any(p.name == param for p in spec.params)


def _conv(m):
    kind = f"Conv{1 if isinstance(m, nn.Conv1d) else 2}d"
    k = _same(m.kernel_size, "kernel_size")
    d = _same(m.dilation, "dilation")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pad = 0
        elif d * (k - 1) % 2 == 0 and _same(m.stride, "stride") == 1:
            pad = d * (k - 1) // 2
        else:
            raise NoNode("padding 'same' with an even kernel")
    else:
        pad = _same(m.padding, "padding")
    params = {"out_channels": m.out_channels, "kernel_size": k, "stride": _same(m.stride, "stride"),
              "padding": pad, "dilation": d, "bias": m.bias is not None}
    if m.groups != 1:
        if not _has_param(kind, "groups"):
            raise NoNode(f"groups={m.groups}")
        params["groups"] = m.groups
    if m.padding_mode != "zeros":
        if not _has_param(kind, "padding_mode"):
            raise NoNode(f"padding_mode '{m.padding_mode}'")
        params["padding_mode"] = m.padding_mode
    return Mapped(kind, params)


def _batchnorm(m):
    if not (m.affine and m.track_running_stats) or m.momentum is None:
        raise NoNode("without affine weights, running statistics or a momentum")
    return Mapped(f"BatchNorm{1 if isinstance(m, nn.BatchNorm1d) else 2}d",
                  {"momentum": m.momentum, "eps": m.eps})


def _layernorm(m):
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise NoNode("over more than the last dimension, or without weight and bias")
    return Mapped("LayerNorm", {"eps": m.eps})


def _lrn(m):
    if catalog.find("LRN") is None:
        raise NoNode("no LRN node in this catalog")
    return Mapped("LRN", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k})


def _pool(m):
    kind = "Max" if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)) else "Avg"
    dims = 1 if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) else 2
    if m.ceil_mode:
        raise NoNode("ceil_mode")
    if kind == "Max" and (_same(m.dilation, "dilation") != 1 or m.return_indices):
        raise NoNode("dilation or return_indices")
    if kind == "Avg" and (not m.count_include_pad or getattr(m, "divisor_override", None)):
        raise NoNode("count_include_pad=False or a divisor_override")
    k = _same(m.kernel_size, "kernel_size")
    stride = _same(m.stride, "stride") if m.stride not in (None, ()) else k
    return Mapped(f"{kind}Pool{dims}d", {"kernel_size": k, "stride": stride,
                                         "padding": _same(m.padding, "padding")})


def _adaptive(m):
    size = m.output_size
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise NoNode("an output size of None")
    dims = 1 if isinstance(m, nn.AdaptiveAvgPool1d) else 2
    return Mapped(f"AdaptiveAvgPool{dims}d", {"output_size": _same(size, "output_size")})


def _flatten(m):
    if (m.start_dim, m.end_dim) != (1, -1):
        raise NoNode(f"start_dim={m.start_dim}, end_dim={m.end_dim}")
    return Mapped("Flatten", {})


def _embedding(m):
    if m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
        raise NoNode("max_norm, scale_grad_by_freq or sparse")
    if m.padding_idx not in (None, 0):
        raise NoNode(f"padding_idx={m.padding_idx} (Workbench's Embedding pads with id 0)")
    return Mapped("Embedding", {"embedding_dim": m.embedding_dim, "num_embeddings": m.num_embeddings})


def _recurrent(m):
    if not m.batch_first:
        raise NoNode("batch_first=False (Workbench's recurrent layers read (batch, steps, features))")
    if not m.bias or getattr(m, "proj_size", 0) or getattr(m, "nonlinearity", "tanh") != "tanh":
        raise NoNode("bias=False, proj_size or a relu nonlinearity")
    return Mapped(type(m).__name__, {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
                                     "bidirectional": m.bidirectional, "dropout": m.dropout,
                                     "return": "all"}, prefix="rnn.")


def _attention(m):
    if not m.batch_first or not m._qkv_same_embed_dim or m.in_proj_bias is None \
            or m.bias_k is not None or m.add_zero_attn:
        raise NoNode("batch_first=False, separate key/value sizes, bias_kv or add_zero_attn")
    return Mapped("MultiheadAttention", {"num_heads": m.num_heads, "dropout": m.dropout},
                  prefix="attn.")


def _encoder(m):
    act = {1: "relu", 2: "gelu"}.get(getattr(m, "activation_relu_or_gelu", 0))
    if act is None or not m.self_attn.batch_first or m.linear1.bias is None:
        raise NoNode("an activation other than relu/gelu, batch_first=False or no biases")
    if m.norm1.eps != 1e-5 or m.norm2.eps != 1e-5 or not (
            m.dropout.p == m.dropout1.p == m.dropout2.p == m.self_attn.dropout):
        raise NoNode("a layer_norm_eps other than 1e-5 or dropouts that differ")
    return Mapped("TransformerEncoderLayer", {
        "num_heads": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features,
        "dropout": m.dropout.p, "activation": act, "norm_first": m.norm_first})


def _softmax(name):
    def mapper(m):
        if m.dim is None:
            raise NoNode("an implicit dim")
        return Mapped(name, {"dim": m.dim})
    return mapper


MODULES = {
    nn.Linear: lambda m: Mapped("Linear", {"out_features": m.out_features, "bias": m.bias is not None}),
    nn.Conv1d: _conv, nn.Conv2d: _conv,
    nn.BatchNorm1d: _batchnorm, nn.BatchNorm2d: _batchnorm,
    nn.LayerNorm: _layernorm, nn.LocalResponseNorm: _lrn,
    nn.Dropout: lambda m: Mapped("Dropout", {"p": m.p}),
    nn.MaxPool1d: _pool, nn.MaxPool2d: _pool, nn.AvgPool1d: _pool, nn.AvgPool2d: _pool,
    nn.AdaptiveAvgPool1d: _adaptive, nn.AdaptiveAvgPool2d: _adaptive,
    nn.Flatten: _flatten, nn.Embedding: _embedding,
    nn.LSTM: _recurrent, nn.GRU: _recurrent, nn.RNN: _recurrent,
    nn.MultiheadAttention: _attention, nn.TransformerEncoderLayer: _encoder,
    nn.ReLU: lambda m: Mapped("ReLU", {}),
    nn.GELU: lambda m: Mapped("GELU", {"approximate": m.approximate}),
    nn.Tanh: lambda m: Mapped("Tanh", {}), nn.Sigmoid: lambda m: Mapped("Sigmoid", {}),
    nn.LeakyReLU: lambda m: Mapped("LeakyReLU", {"negative_slope": m.negative_slope}),
    nn.ELU: lambda m: Mapped("ELU", {"alpha": m.alpha}),
    nn.SiLU: lambda m: Mapped("SiLU", {}),
    nn.Softmax: _softmax("Softmax"), nn.LogSoftmax: _softmax("LogSoftmax"),
    nn.Identity: lambda m: Mapped("", {}),
}
# fx cannot trace into these (their forward branches on the input), so they stay leaves even
# when they do not map: the import then says why instead of failing inside torch
UNTRACEABLE = (nn.LSTM, nn.GRU, nn.RNN, nn.MultiheadAttention, nn.TransformerEncoderLayer)


def map_module(m: nn.Module) -> Mapped:
    """The catalog node for `m`, or NoNode saying why there is none."""
    mapper = MODULES.get(type(m))
    if mapper is None:
        raise NoNode(f"no Workbench node for {type(m).__name__}")
    mapped = mapper(m)
    spec = catalog.find(mapped.type) if mapped.type else None
    if mapped.type and spec is None:
        raise NoNode(f"no {mapped.type} node in this catalog")
    for name, value in mapped.params.items():
        try:
            spec.param(name).check(value)
        except (KeyError, ValueError) as exc:
            raise NoNode(f"{name}={value!r} is outside what the node takes ({exc})") from None
    return mapped


class Tracer(fx.Tracer):
    """Stops at the layers the catalog maps; traces through everything else."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, UNTRACEABLE) and type(m) in MODULES:
            return True
        try:
            map_module(m)
            return True
        except NoNode:
            return False

    def call_module(self, m, forward, args, kwargs):
        # nn.TransformerEncoder's forward branches on its input (fast paths, masks); without
        # masks it is its layers in turn, then its norm: traced as that, each layer a node
        if type(m) is nn.TransformerEncoder and len(args) == 1 and \
                all(v is None for v in kwargs.values()):
            x = args[0]
            for layer in m.layers:
                x = self.call_module(layer, layer.forward, (x,), {})
            if m.norm is not None:
                x = self.call_module(m.norm, m.norm.forward, (x,), {})
            return x
        return super().call_module(m, forward, args, kwargs)


def short_error(exc: BaseException) -> str:
    text = " ".join(re.split(r"\s*While executing", str(exc))[0].split()) or type(exc).__name__
    return text[:240] + ("…" if len(text) > 240 else "")
