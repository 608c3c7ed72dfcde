"""Example plugin: gated and residual layers that PyTorch has no single module for.

- GLU: a Linear layer with a learned gate, out = (x·W + b) ⊙ σ(x·V + c) (Dauphin et al. 2017).
- ResidualMLP: x + Linear(act(Linear(x))) with LayerNorm first — a pre-norm residual block
  that keeps the feature size, so any number can be stacked.

Copy this file as a starting point for your own plugin; see docs/plugins.md.
"""
from __future__ import annotations

import torch
from torch import nn

from workbench.plugin_api import NodeSpec, Param, Port, ShapeError


class GLU(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.value = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x) * torch.sigmoid(self.gate(x))


class ResidualMLP(nn.Module):
    def __init__(self, features: int, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.up = nn.Linear(features, hidden)
        self.act = nn.GELU()
        self.down = nn.Linear(hidden, features)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.down(self.act(self.up(self.norm(x)))))


def _features(ins):
    t = ins["in"]
    if t.dtype != "float32" or t.rank not in (2, 3) or not isinstance(t.shape[-1], int):
        raise ShapeError(f"expects (batch, features) or (batch, steps, features), gets {t}")
    return t


def register(api) -> None:
    api.node(NodeSpec(
        "GLU", "Gated", "Gated linear unit: a Linear layer whose outputs are scaled by a learned "
        "sigmoid gate of the same input.",
        inputs=(Port("in"),),
        params=(Param("out_features", "int", 64, "Number of outputs.", min=1, max=1_000_000),),
        infer=lambda p, ins: {"out": _features(ins).with_shape(*ins["in"].shape[:-1], p["out_features"])},
        build=lambda p, ins: GLU(ins["in"].shape[-1], p["out_features"]),
        title="glu", width_param="out_features"))
    api.node(NodeSpec(
        "ResidualMLP", "Gated", "Pre-norm residual block x + W2·GELU(W1·LayerNorm(x)); keeps the "
        "feature size, so blocks stack.",
        inputs=(Port("in"),),
        params=(Param("hidden", "int", 128, "Width of the hidden layer.", min=1, max=1_000_000),
                Param("dropout", "float", 0.0, "Dropout on the block's output.", min=0.0, max=0.99)),
        infer=lambda p, ins: {"out": _features(ins)},
        build=lambda p, ins: ResidualMLP(ins["in"].shape[-1], p["hidden"], p["dropout"]),
        title="residual"))
