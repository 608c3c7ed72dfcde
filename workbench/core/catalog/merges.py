"""Nodes that join several tensors (2 to 8, ports a..h): Add, Multiply (same shapes) and Concat
(along a dim)."""
from __future__ import annotations

import operator

import torch

from workbench.core.catalog import register
from workbench.core.spec import Call, NodeSpec, Param, Port, ShapeError
from workbench.core.types import known

NAMES = "abcdefgh"  # up to 8 inputs ("Sum of many inputs"); files with a..d load unchanged
PORTS = (Port("a"), Port("b"), *(Port(n, optional=True) for n in NAMES[2:]))


def _connected(ins):
    return [ins[k] for k in NAMES if k in ins]


def _elementwise(p, ins):
    ts = _connected(ins)
    first = ts[0]
    for t in ts[1:]:
        if t.shape != first.shape:
            raise ShapeError(f"needs inputs of the same shape, gets {first} and {t}")
    return {"out": first}


def _concat(p, ins):
    ts = _connected(ins)
    rank = ts[0].rank
    if any(t.rank != rank for t in ts):
        raise ShapeError("needs inputs with the same number of dimensions, gets "
                         + " and ".join(str(t) for t in ts))
    dim = p["dim"] % rank
    if dim == 0:
        raise ShapeError("cannot join along the batch dimension")
    for t in ts[1:]:
        for i in range(rank):
            if i != dim and t.shape[i] != ts[0].shape[i]:
                raise ShapeError(f"inputs must match except along dim {p['dim']}, gets "
                                 + " and ".join(str(t) for t in ts))
    sizes = [t.shape[dim] for t in ts]
    shape = list(ts[0].shape)
    shape[dim] = sum(sizes) if known(*sizes) else "?"
    return {"out": ts[0].with_shape(*shape)}


register(NodeSpec("Add", "Merge", "Sums its inputs element by element (a residual connection).",
                  PORTS, infer=_elementwise, build=lambda p, ins: Call(operator.add), title="add"))
register(NodeSpec("Multiply", "Merge", "Multiplies its inputs element by element (gating).",
                  PORTS, infer=_elementwise, build=lambda p, ins: Call(operator.mul), title="mul"))
register(NodeSpec("Concat", "Merge", "Joins its inputs along a dimension (-1 = features).",
                  PORTS, params=(Param("dim", "int", -1, "Dimension to join along.", min=-8, max=8),),
                  infer=_concat, build=lambda p, ins: Call(torch.cat, {"dim": p["dim"]}, mode="list"),
                  title="concat"))

