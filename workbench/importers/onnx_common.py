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


def _scopes(node) -> list[str] | None:
    """The module path the dynamo exporter records ("pkg.torch.onnx.name_scopes":
    "['', 'layer1', '0', 'conv1', 'conv2d']"), without the root and the op; None if absent."""
    import ast
    text = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), None)
    if not text or len(text) > 1000:
        return None
    try:
        value = ast.literal_eval(text)   # a literal only: never runs code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return [v for v in value[1:-1] if v]


def title_of(node, fallback: str) -> str:
    """The module path, identifier-safe: "/features/features.0/Conv" → "features_0",
    "/layer1/layer1.0/conv1/Conv" → "layer1_0_conv1", the dynamo exporter's name scopes
    ['', 'net', 'net.0', 'linear'] → "net_0"; else the node name ("node_relu" → "relu")."""
    parts = [p for p in (node.name or "").split("/") if p]
    scopes = _scopes(node) or (parts[:-1] if len(parts) > 1 else None)
    if scopes:
        base = ""
        for p in scopes:   # scopes are full paths ("features.0") or local names ("conv1")
            base = p if not base or p.startswith(base + ".") else f"{base}.{p}"
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



def reduce_axes(m, node, rank: int) -> list[int]:
    """The axes a Reduce* node reduces over, non-negative and sorted: its attribute (opsets
    before 18) or its constant second input (18 on)."""
    axes = attrs(node).get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = m.const(node.input[1], "axes").reshape(-1).tolist()
    if not axes:
        raise Unmapped("it reduces over every axis, the batch too")
    return sorted(int(v) % rank for v in axes)
