"""Small nn.Modules for nodes that PyTorch has no single module for.

Each one is TorchScript- and ONNX-friendly (no data-dependent Python control flow), so the
compiled graph exports like a hand-written model.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import torch
from torch import nn

_INIT = "_workbench_init"  # (args, kwargs) a module was constructed with, while recording
_recording = threading.local()


def _new(cls, *args, **kwargs):
    module = object.__new__(cls)
    if getattr(_recording, "on", False):
        object.__setattr__(module, _INIT, (args, kwargs))
    return module


# Installed once: a class's __new__ cannot be removed again cleanly (CPython keeps the slot).
nn.Module.__new__ = _new


@contextmanager
def recording_arguments():
    """Every nn.Module constructed inside (in this thread) remembers the arguments it was
    constructed with (read by `init_arguments`), so exported code can construct it the same
    way whatever its class: one rule for torch.nn layers, Workbench's own and plugins'."""
    before = getattr(_recording, "on", False)
    _recording.on = True
    try:
        yield
    finally:
        _recording.on = before


def init_arguments(module: nn.Module) -> tuple[tuple, dict] | None:
    """(args, kwargs) `module` was constructed with inside `recording_arguments`, else None."""
    return module.__dict__.get(_INIT)


class Reshape(nn.Module):
    """(batch, ...) -> (batch, *shape)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape([x.shape[0]] + self.shape)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.shape)}"


class Transpose(nn.Module):
    """Swap two dimensions, e.g. (batch, steps, channels) -> (batch, channels, steps) for Conv1d."""

    def __init__(self, dim0: int, dim1: int):
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class SequencePool(nn.Module):
    """(batch, steps, features) -> (batch, features): mean or max over the steps.

    With skip_padding, all-zero steps are left out: an Embedding maps the PAD id to a zero
    vector, so short texts are not diluted by their padding.
    """

    def __init__(self, mode: str = "mean", skip_padding: bool = False):
        super().__init__()
        self.mode = mode
        self.skip_padding = skip_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.skip_padding:
            return x.amax(dim=1) if self.mode == "max" else x.mean(dim=1)
        keep = (x != 0).any(dim=-1, keepdim=True)  # (B, T, 1)
        if self.mode == "max":
            return x.masked_fill(~keep, float("-inf")).amax(dim=1).clamp_min(-3.0e38)
        weights = keep.to(x.dtype)
        return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, skip_padding={self.skip_padding}"


class Recurrent(nn.Module):
    """An RNN/LSTM/GRU (batch first) that returns every step or only the last one.

    For a bidirectional layer the 'last' step is the forward direction's last output joined
    with the backward direction's first, so each direction has seen the whole sequence.
    """

    def __init__(self, rnn: nn.Module, last: bool):
        super().__init__()
        self.rnn = rnn
        self.last = last
        self.hidden = int(rnn.hidden_size)
        self.bidirectional = bool(rnn.bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rnn(x)[0]  # (B, T, H * directions)
        if not self.last:
            return out
        if self.bidirectional:
            return torch.cat([out[:, -1, : self.hidden], out[:, 0, self.hidden:]], dim=1)
        return out[:, -1]


class SelfAttention(nn.Module):
    """Multi-head self-attention over a sequence: (batch, steps, dim) -> same shape."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class PositionalEmbedding(nn.Module):
    """Adds a learned vector per position: (batch, steps, dim) -> same shape."""

    def __init__(self, steps: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, steps, dim))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight[:, : x.shape[1]]
