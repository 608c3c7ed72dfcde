"""Activation statistics: what each layer's output looks like, sampled at the event rate.

`ActivationProbe` installs forward hooks on the compiled model's submodules for ONE training
step when an event is due, and removes them right after that step's forward pass. Each hook
reduces its node's output on the device (no copy to the host, no synchronisation) to:

- mean, std: of all output values (population std);
- zero_frac: the share of values that are exactly 0;
- dead_frac (only for DEAD_UNIT_TYPES, e.g. ReLU): the share of units (features, or channels
  of a channels-first convolutional/pooled tensor) that were 0 for every sample and every
  position of the batch: units that no longer fire and so get no gradient.

The trainer reads the stacked values together with the gradient norms (one device read per
event), so no step that does not emit an event pays anything.
"""
from __future__ import annotations

import math

import torch

from workbench.train.events import EventGate

# Activations whose exact zeros mean a unit that does not fire (and so learns nothing).
DEAD_UNIT_TYPES = frozenset({"ReLU", "ReLU6"})
STATS = ("mean", "std", "zero_frac", "dead_frac")
# Shape-preserving nodes the layout search looks through to find what made a tensor.
_PASS_THROUGH = ("Activations", "Regularisation", "Normalisation")


def channels_first(graph, nid: str) -> bool:
    """Does a 3-D output of this node have its units on dim 1 (batch, channels, length) rather
    than last (batch, steps, features)? True when the nearest producer upstream, through
    element-wise nodes, is a 1-D/2-D convolution or pooling (names ending in 1d/2d/3d)."""
    seen = set()
    while nid not in seen:
        seen.add(nid)
        edges = graph.edges_into(nid)
        if not edges:
            return False
        src = graph.nodes[edges[0].src]
        if src.type.endswith(("1d", "2d", "3d")):  # Conv, pooling, BatchNorm: channels first
            return True
        spec = src.spec
        if spec is None or spec.category not in _PASS_THROUGH:
            return False
        nid = src.id
    return False


def unit_dim(rank: int, first: bool) -> int | None:
    """The dimension that indexes units in an output of this rank (None: no batch/unit dims)."""
    if rank < 2:
        return None
    if rank == 3:
        return 1 if first else 2
    return 1  # (batch, features) or (batch, channels, *spatial)


class ActivationProbe:
    """Forward hooks for one sampled step; `read_tensor()` + `decode()` give the statistics."""

    def __init__(self, module: torch.nn.Module, submodules: dict[str, str], graph=None,
                 rate: float = 20.0):
        self.targets: list[tuple[str, torch.nn.Module, bool | None]] = []
        for nid, name in submodules.items():
            node = graph.nodes.get(nid) if graph is not None else None
            dead = node is not None and node.type in DEAD_UNIT_TYPES
            first = channels_first(graph, nid) if dead else None
            self.targets.append((nid, module.get_submodule(name), first))
        self.gate = EventGate(rate)
        self.handles: list = []
        self.captured: dict[str, torch.Tensor] = {}   # node id -> (4,) float32 on the device

    def due(self) -> bool:
        """At most `rate` samples a second (epoch ends of tiny epochs come much faster)."""
        return self.gate.due()

    def install(self) -> None:
        self.gate.mark()
        self.captured = {}
        for nid, mod, first in self.targets:
            self.handles.append(mod.register_forward_hook(self._hook(nid, first)))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _hook(self, nid: str, first: bool | None):
        captured = self.captured

        def hook(mod, inp, out):
            o = out[0] if isinstance(out, (tuple, list)) else out
            if not torch.is_tensor(o) or not o.is_floating_point() or o.numel() == 0:
                return
            captured[nid] = stats(o, first)
        return hook

    def take(self) -> tuple[list[str], torch.Tensor | None]:
        """The node ids and their (n, 4) stacked statistics (on the device); clears them."""
        if not self.captured:
            return [], None
        ids, values = list(self.captured), torch.stack(list(self.captured.values()))
        self.captured = {}
        return ids, values


@torch.no_grad()
def stats(o: torch.Tensor, first: bool | None) -> torch.Tensor:
    """(mean, std, zero fraction, dead-unit fraction or NaN) of one output, on its device."""
    o = o.detach()
    f = o.float()
    std, mean = torch.std_mean(f, correction=0)
    zero = 1.0 - torch.count_nonzero(o) / o.numel()
    dim = unit_dim(o.ndim, bool(first)) if first is not None else None
    if dim is None:
        dead = torch.full((), math.nan, device=o.device)
    else:
        units = o.shape[dim]
        fired = (o != 0).movedim(dim, 0).reshape(units, -1).any(dim=1)
        dead = 1.0 - torch.count_nonzero(fired) / units
    return torch.stack([mean, std, zero.float(), dead.float()])


def decode(ids: list[str], values: list[list[float]]) -> dict[str, dict[str, float]]:
    """Rows read from the device -> {node id: {"mean", "std", "zero_frac"[, "dead_frac"]}}."""
    out = {}
    for nid, row in zip(ids, values):
        d = dict(zip(STATS, row))
        if math.isnan(d["dead_frac"]):
            del d["dead_frac"]
        out[nid] = d
    return out
