"""Small helpers the ONNX importer's modules share: the Unmapped signal, attributes, titles."""
from __future__ import annotations

import re

import numpy as np
import onnx
import torch

from workbench.core.compile import identifier


class Unmapped(Exception):
    """This node is not (exactly) what a catalog node computes; the message says why."""


def attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else (
            [x.decode() if isinstance(x, bytes) else x for x in v] if isinstance(v, list) else v)
    return out


def title_of(node, fallback: str) -> str:
    """"/features/features.0/Conv" → "features_0"; the dynamo exporter's "node_Conv_16" → "conv"."""
    parts = [p for p in (node.name or "").split("/") if p]
    if len(parts) > 1:
        base = parts[-2]
    elif parts:
        base = re.sub(r"_\d+$", "", re.sub(r"^node_", "", parts[0]))
    else:
        base = fallback
    base = base.strip("_")
    if not base or base.isdigit():
        base = fallback
    return identifier(base.replace(".", "_"))


def _f32(a) -> torch.Tensor:
    a = np.ascontiguousarray(a)
    t = torch.from_numpy(a.copy())
    return t.float() if t.is_floating_point() else t


def _one(values, what: str) -> int:
    values = list(values)
    if len(set(values)) != 1:
        raise Unmapped(f"{what} differs between dimensions ({values})")
    return int(values[0])


def scalar(m, name: str) -> float | None:
    """The value of a one-element constant, else None."""
    v = m.fold.consts.get(name)
    return float(np.asarray(v).reshape(-1)[0]) if v is not None and v.size == 1 else None


def other(node, name: str) -> str:
    """The other input of a two-input node."""
    return node.input[1] if node.input[0] == name else node.input[0]

