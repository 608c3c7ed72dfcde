"""Patterns the exporters write as several ops for what is one Workbench node, found before
mapping: GELU as erf arithmetic, SiLU as x·sigmoid(x), LayerNorm as nine ops (before opset 17),
and a padding-mode Pad feeding a Conv. A fused pattern's inner nodes are skipped and its last
node emits the one node (Mapper._emit_fused)."""
from __future__ import annotations

import math

import numpy as np

from workbench.importers.onnx_common import attrs, other, scalar


def fuse(m) -> None:
    _fuse_gelu(m)
    _fuse_silu(m)
    _fuse_layernorm(m)
    _fuse_pad_conv(m)


def _fuse_gelu(m) -> None:
    """x · 0.5 · (1 + erf(x / √2)) — how opsets before 20 write GELU — becomes one GELU."""
    producer = {o: k for k, n in enumerate(m.nodes) for o in n.output}

    def near(v, want):
        return v is not None and math.isclose(v, want, rel_tol=1e-4)

    for e, erf in enumerate(m.nodes):
        if erf.op_type != "Erf":
            continue
        p = producer.get(erf.input[0])
        if p is None or m.only_consumer(erf.input[0]) is None:
            continue
        pre = m.nodes[p]
        if pre.op_type == "Div" and near(scalar(m, pre.input[1]), math.sqrt(2)):
            x = pre.input[0]
        elif pre.op_type == "Mul" and near(scalar(m, other(pre, pre.input[0])), 1 / math.sqrt(2)):
            x = pre.input[0] if pre.input[1] in m.fold.consts else pre.input[1]
        else:
            continue
        a = m.only_consumer(erf.output[0])
        if a is None or m.nodes[a].op_type != "Add" or not near(
                scalar(m, other(m.nodes[a], erf.output[0])), 1.0):
            continue
        m1 = m.only_consumer(m.nodes[a].output[0])
        if m1 is None or m.nodes[m1].op_type != "Mul":
            continue
        mul1 = m.nodes[m1]
        o = other(mul1, m.nodes[a].output[0])
        chain = [p, e, a, m1]
        if near(scalar(m, o), 0.5) or o == x:
            m2 = m.only_consumer(mul1.output[0])
            if m2 is None or m.nodes[m2].op_type != "Mul":
                continue
            o2 = other(m.nodes[m2], mul1.output[0])
            if not ((o == x and near(scalar(m, o2), 0.5)) or (o != x and o2 == x)):
                continue
            chain.append(m2)
        else:
            h = producer.get(o)
            if h is None or m.nodes[h].op_type != "Mul" or m.only_consumer(o) is None:
                continue
            hn = m.nodes[h]
            if not (x in hn.input and near(scalar(m, other(hn, x)), 0.5)):
                continue
            chain.insert(0, h)
        last = chain[-1]
        m.done.update(k for k in chain if k != last)
        m.fused[last] = ("gelu", x)


def _fuse_silu(m) -> None:
    """x · sigmoid(x) becomes one SiLU."""
    for k, sig in enumerate(m.nodes):
        if sig.op_type != "Sigmoid" or k in m.done:
            continue
        user = m.only_consumer(sig.output[0])
        if user is None or m.nodes[user].op_type != "Mul" or user in m.fused:
            continue
        if other(m.nodes[user], sig.output[0]) == sig.input[0]:
            m.done.add(k)
            m.fused[user] = ("silu", sig.input[0])


def _last_axis_mean(m, node, rank: int | None = None) -> bool:
    if node.op_type != "ReduceMean" or not attrs(node).get("keepdims", 1):
        return False
    axes = attrs(node).get("axes")
    if axes is None and len(node.input) > 1 and node.input[1] in m.fold.consts:
        axes = m.fold.consts[node.input[1]].reshape(-1).tolist()
    rank = rank or len(m.shapes.get(node.input[0]) or ())
    if axes is None:
        return False
    if not rank:            # shape inference lost the rank: only the literal last axis
        return [int(a) for a in axes] == [-1]
    return [int(a) % rank for a in axes] == [rank - 1]


def _fuse_layernorm(m) -> None:
    """(x − mean) / sqrt(mean((x − mean)²) + eps) · scale + bias over the last axis — how
    opsets before 17 write LayerNorm — becomes one LayerNorm."""
    def single(name, op):
        k = m.only_consumer(name)
        return k if k is not None and m.nodes[k].op_type == op else None

    for r1, mean in enumerate(m.nodes):
        if not _last_axis_mean(m, mean) or r1 in m.done:
            continue
        x = mean.input[0]
        sub = single(mean.output[0], "Sub")
        if sub is None or list(m.nodes[sub].input) != [x, mean.output[0]]:
            continue
        users = m.consumers.get(m.nodes[sub].output[0], [])
        pw = next((k for k in users if m.nodes[k].op_type == "Pow"), None)
        dv = next((k for k in users if m.nodes[k].op_type == "Div"), None)
        if len(users) != 2 or pw is None or dv is None or not math.isclose(
                scalar(m, m.nodes[pw].input[1]) or 0, 2.0):
            continue
        r2 = m.only_consumer(m.nodes[pw].output[0])
        rank = len(m.shapes.get(x) or ())
        if r2 is None or not _last_axis_mean(m, m.nodes[r2], rank):
            continue
        a1 = single(m.nodes[r2].output[0], "Add")
        eps = scalar(m, other(m.nodes[a1], m.nodes[r2].output[0])) if a1 is not None else None
        sq = single(m.nodes[a1].output[0], "Sqrt") if eps is not None else None
        if sq is None or single(m.nodes[sq].output[0], "Div") != dv \
                or m.nodes[dv].input[1] != m.nodes[sq].output[0]:
            continue
        chain, last = [r1, sub, pw, r2, a1, sq, dv], dv
        width = (m.shapes.get(x) or (None,))[-1]
        if not isinstance(width, int):   # shape inference lost it: the scale's size says it
            mu0 = single(m.nodes[dv].output[0], "Mul")
            c = m.fold.consts.get(other(m.nodes[mu0], m.nodes[dv].output[0])) if mu0 is not None else None
            width = int(c.size) if c is not None and c.ndim == 1 else None
        scale = bias = None
        mu = single(m.nodes[dv].output[0], "Mul")
        if mu is not None:
            scale = m.fold.consts.get(other(m.nodes[mu], m.nodes[dv].output[0]))
            if scale is not None and scale.size == width:
                chain.append(mu)
                last = mu
                ad = single(m.nodes[mu].output[0], "Add")
                if ad is not None:
                    bias = m.fold.consts.get(other(m.nodes[ad], m.nodes[mu].output[0]))
                    if bias is not None and bias.size == width:
                        chain.append(ad)
                        last = ad
                    else:
                        bias = None
            else:
                scale = None
        if not isinstance(width, int):
            continue
        scale = np.ones(width, np.float32) if scale is None else scale.astype(np.float32).reshape(-1)
        bias = np.zeros(width, np.float32) if bias is None else bias.astype(np.float32).reshape(-1)
        m.done.update(k for k in chain if k != last)
        m.fused[last] = ("layernorm", x, float(eps), scale, bias)


_MODES = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _fuse_pad_conv(m) -> None:
    """Conv2d(padding_mode="reflect") exports as Pad(mode=reflect) → Conv(pads 0): one Conv
    with that padding mode again, where the Conv itself maps."""
    from workbench.importers.onnx_common import Unmapped
    producer = {o: k for k, n in enumerate(m.nodes) for o in n.output}
    for k, conv in enumerate(m.nodes):
        if conv.op_type != "Conv" or conv.input[0] not in producer:
            continue
        p = producer[conv.input[0]]
        pad = m.nodes[p]
        a = attrs(pad)
        mode = _MODES.get(a.get("mode", "constant"))
        if pad.op_type != "Pad" or mode is None or m.only_consumer(pad.output[0]) != k \
                or (len(pad.input) > 3 and pad.input[3]):
            continue
        pads = a.get("pads")
        if pads is None and len(pad.input) > 1 and pad.input[1] in m.fold.consts:
            pads = m.fold.consts[pad.input[1]].reshape(-1).tolist()
        w = m.fold.consts.get(conv.input[1]) if len(conv.input) > 1 else None
        if pads is None or w is None or len(pads) != 2 * w.ndim:
            continue
        rank = w.ndim
        begins, ends = [int(v) for v in pads[:rank]], [int(v) for v in pads[rank:]]
        if begins[:2] != [0, 0] or ends[:2] != [0, 0] or len(set(begins[2:] + ends[2:])) != 1:
            continue
        try:
            if m._window(conv, rank, w.shape[2:])[2] != 0:
                continue
        except Unmapped:
            continue
        m.done.add(p)
        m.pad_conv[conv.output[0]] = (pad.input[0], begins[2], mode)
        m.pad_conv_index[k] = pad.input[0]
