"""ONNX nodes with no catalog node become Opaque nodes (workbench/core/opaque.py).

Torch flavour where one torch function computes the op (Erf → torch.erf, Einsum →
torch.einsum, a constant-index Gather → Tensor.select…): it trains, and runs on the meta device
for shapes. ONNX flavour otherwise: the node itself, run by onnxruntime, frozen. `TORCH` is the
table op → builder(node, arg, attrs) -> (target, args, kwargs, trainable names); a builder
raises Unmapped when this node's attributes fall outside what the torch call does.
"""
from __future__ import annotations

import numpy as np
import onnx
import torch

from workbench.core import catalog
from workbench.importers.onnx_common import reduce_axes
from workbench.importers.onnx_ops import Unmapped, _f32, attrs

F = "torch.nn.functional."


def _unary(target):
    return lambda m, node, arg, a: (target, [arg(node.input[0])], {}, ())


def _binary(target):
    def build(m, node, arg, a):
        if any(m.types.get(n, 1) != onnx.TensorProto.FLOAT for n in node.input[:2]):
            raise Unmapped("integer arithmetic follows ONNX rules, not torch's")
        return target, [arg(node.input[0]), arg(node.input[1])], {}, ()
    return build


def _axes(m, node, rank):
    axes = reduce_axes(m, node, rank)
    if 0 in axes:
        raise Unmapped("it reduces over the batch")
    return axes


def _reduce(target):
    def build(m, node, arg, a):
        axes = _axes(m, node, m.rank(node.input[0]))
        return target, [arg(node.input[0])], {"dim": axes, "keepdim": bool(a.get("keepdims", 1))}, ()
    return build


def _einsum(m, node, arg, a):
    return "torch.einsum", [a["equation"], *[arg(n) for n in node.input]], {}, ()


def _gather(m, node, arg, a):
    data, idx = node.input[0], node.input[1]
    axis = a.get("axis", 0) % m.rank(data)
    if axis == 0 or idx not in m.fold.consts:
        raise Unmapped("a Gather over the batch or with computed indices")
    i = np.asarray(m.fold.consts[idx])
    size = (m.dims(data) or ())[axis] if m.dims(data) else None
    if i.ndim == 0:
        return "Tensor.select", [arg(data), axis, int(i)], {}, ()
    if i.ndim == 1 and isinstance(size, int):
        return "torch.index_select", [arg(data), axis, arg(idx, np.where(i < 0, i + size, i))], {}, ()
    raise Unmapped("a Gather with multi-dimensional indices")


def _where(m, node, arg, a):
    return "torch.where", [arg(n) for n in node.input[:3]], {}, ()


def _clip(m, node, arg, a):
    lo, hi = a.get("min"), a.get("max")
    ins = list(node.input) + ["", ""]
    for k, name in ((1, ins[1]), (2, ins[2])):
        if name:
            v = m.fold.consts.get(name)
            if v is None or v.size != 1:
                raise Unmapped("its bounds are computed")
            if k == 1:
                lo = float(v)
            else:
                hi = float(v)
    return "torch.clamp", [arg(node.input[0])], {"min": lo, "max": hi}, ()


def _pad(m, node, arg, a):
    x = node.input[0]
    rank = m.rank(x)
    pads = a.get("pads")
    if pads is None:
        pads = m.const(node.input[1], "pads").reshape(-1).tolist()
    if len(node.input) > 3 and node.input[3]:
        raise Unmapped("it pads only some axes")
    value = 0.0
    if len(node.input) > 2 and node.input[2]:
        value = float(m.const(node.input[2], "constant_value"))
    elif "value" in a:
        value = float(a["value"])
    pads = [int(p) for p in pads]
    if pads[0] or pads[rank]:
        raise Unmapped("it pads the batch")
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(
        a.get("mode", "constant"))
    if mode is None:
        raise Unmapped(f"mode {a.get('mode')}")
    spec = []
    for d in reversed(range(rank)):
        spec += [pads[d], pads[d + rank]]
    while spec[-2:] == [0, 0]:
        spec = spec[:-2]
    kw = {"mode": mode} | ({"value": value} if mode == "constant" else {})
    return F + "pad", [arg(x), spec], kw, ()


def _matmul(m, node, arg, a):
    trainable = tuple(n for n in node.input[:2] if n in m.fold.consts)
    return "torch.matmul", [arg(node.input[0]), arg(node.input[1])], {}, trainable


def _conv(m, node, arg, a):
    w = m.const(node.input[1], "weight")
    n = w.ndim - 2
    if n not in (1, 2, 3) or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unmapped("auto_pad")
    pads = list(a.get("pads") or [0] * (2 * n))
    if pads[:n] != pads[n:]:
        raise Unmapped("its padding is not the same on both sides")
    args = [arg(node.input[0]), arg(node.input[1])]
    args.append(arg(node.input[2]) if len(node.input) > 2 and node.input[2] else None)
    kw = {"stride": list(a.get("strides") or [1] * n), "padding": pads[:n],
          "dilation": list(a.get("dilations") or [1] * n), "groups": int(a.get("group", 1))}
    return f"{F}conv{n}d", args, kw, tuple(x for x in node.input[1:3] if x)


def _avgpool(m, node, arg, a):
    n = m.rank(node.input[0]) - 2
    pads = list(a.get("pads") or [0] * (2 * n))
    if n not in (1, 2, 3) or pads[:n] != pads[n:] or a.get("auto_pad", "NOTSET") != "NOTSET" \
            or a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations") or []):
        raise Unmapped("asymmetric padding, auto_pad, ceil_mode or dilation")
    return (f"{F}avg_pool{n}d", [arg(node.input[0]), list(a["kernel_shape"])],
            {"stride": list(a.get("strides") or [1] * n), "padding": pads[:n],
             "count_include_pad": bool(a.get("count_include_pad", 0))}, ())


def _global_max(m, node, arg, a):
    rank = m.rank(node.input[0])
    return "torch.amax", [arg(node.input[0])], {"dim": list(range(2, rank)), "keepdim": True}, ()


def _permute(m, node, arg, a):
    perm = list(a.get("perm") or [])
    if not perm or perm[0] != 0:
        raise Unmapped("it moves the batch dimension")
    return "Tensor.permute", [arg(node.input[0]), perm], {}, ()


def _cast(m, node, arg, a):
    to = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}.get(a.get("to"))
    if to is None:
        raise Unmapped("a cast to a type Workbench tensors do not have")
    return "Tensor.to", [arg(node.input[0]), {"dtype": to}], {}, ()


def _softmax(target):
    def build(m, node, arg, a):
        rank = m.rank(node.input[0])
        axis = a.get("axis", -1 if m.opset >= 13 else 1) % rank
        if m.opset < 13 or axis == 0:
            raise Unmapped("softmax over flattened axes or the batch")
        return target, [arg(node.input[0])], {"dim": axis}, ()
    return build


def _hardsigmoid(m, node, arg, a):
    alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or beta != 0.5:
        raise Unmapped("alpha/beta differ from torch's hardsigmoid")
    return F + "hardsigmoid", [arg(node.input[0])], {}, ()


def _resize(m, node, arg, a):
    """Resize / Upsample as torch.nn.functional.interpolate where the coordinate rules agree:
    nearest = asymmetric + floor, (bi)linear = half_pixel (align_corners=False) or align_corners."""
    x = node.input[0]
    rank = m.rank(x)
    ins = list(node.input) + ["", "", ""]
    if node.op_type == "Upsample":
        scales, sizes = ins[1], ""
    else:
        scales, sizes = (ins[1], "") if m.opset < 11 else (ins[2], ins[3])
    mode = a.get("mode", "nearest")
    kw = {}
    if scales and scales in m.fold.consts and m.fold.consts[scales].size:
        s = m.fold.consts[scales].reshape(-1).tolist()
        if s[:2] != [1.0, 1.0]:
            raise Unmapped("it scales the batch or the channels")
        kw["scale_factor"] = [float(v) for v in s[2:]]
    elif sizes and sizes in m.fold.consts:
        kw["size"] = [int(v) for v in m.fold.consts[sizes].reshape(-1).tolist()[2:]]
    else:
        raise Unmapped("its scales are computed")
    ctm = a.get("coordinate_transformation_mode", "asymmetric" if node.op_type == "Upsample" else "half_pixel")
    if mode == "nearest":
        if ctm != "asymmetric" or a.get("nearest_mode", "floor" if node.op_type == "Upsample" else
                                        "round_prefer_floor") != "floor":
            raise Unmapped(f"nearest with {ctm} coordinates")
        kw["mode"] = "nearest"
    elif mode == "linear" and rank in (3, 4) and ctm in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        kw["mode"] = "linear" if rank == 3 else "bilinear"
        kw["align_corners"] = ctm == "align_corners"
    else:
        raise Unmapped(f"mode {mode} with {ctm} coordinates")
    return F + "interpolate", [arg(x)], kw, ()


def _slice(m, node, arg, a):
    """One axis, step 1, constant bounds: Tensor.narrow(dim, start, length)."""
    x = node.input[0]
    dims = m.dims(x)
    if m.opset < 10:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        ins = list(node.input) + ["", "", ""]
        starts, ends = (m.const(n, "bound").reshape(-1).tolist() for n in ins[1:3])
        axes = m.const(ins[3], "axes").reshape(-1).tolist() if ins[3] else None
        steps = m.const(ins[4], "steps").reshape(-1).tolist() if ins[4] else None
    axes = axes if axes is not None else list(range(len(starts)))
    if len(axes) != 1 or (steps and steps != [1]) or not dims:
        raise Unmapped("a slice over several axes or with a step")
    axis = int(axes[0]) % len(dims)
    size = dims[axis]
    if axis == 0 or not isinstance(size, int):
        raise Unmapped("a slice of the batch or of a dimension of unknown size")
    start, end = (int(v) for v in (starts[0], ends[0]))
    start = min(max(start + size if start < 0 else start, 0), size)
    end = min(max(end + size if end < 0 else end, 0), size)
    if end <= start:
        raise Unmapped("an empty slice")
    return "Tensor.narrow", [arg(x), axis, start, end - start], {}, ()


def _split(m, node, arg, a):
    x = node.input[0]
    axis = a.get("axis", 0) % m.rank(x)
    sizes = [(m.dims(o) or ())[axis] if len(m.dims(o) or ()) > axis else None for o in node.output]
    if axis == 0 or not all(isinstance(v, int) for v in sizes):
        raise Unmapped("a split of the batch or into pieces of unknown size")
    return "torch.split", [arg(x), sizes], {"dim": axis}, ()


def _conv_transpose(m, node, arg, a):
    w = m.const(node.input[1], "weight")
    n = w.ndim - 2
    pads = list(a.get("pads") or [0] * (2 * n))
    if n not in (1, 2, 3) or a.get("auto_pad", "NOTSET") != "NOTSET" or "output_shape" in a \
            or pads[:n] != pads[n:]:
        raise Unmapped("auto_pad, output_shape or uneven padding")
    bias = arg(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    kw = {"stride": list(a.get("strides") or [1] * n), "padding": pads[:n],
          "output_padding": list(a.get("output_padding") or [0] * n),
          "groups": int(a.get("group", 1)), "dilation": list(a.get("dilations") or [1] * n)}
    return (f"{F}conv_transpose{n}d", [arg(node.input[0]), arg(node.input[1]), bias], kw,
            tuple(x for x in node.input[1:3] if x))


def _instance_norm(m, node, arg, a):
    return (F + "instance_norm", [arg(node.input[0])],
            {"weight": arg(node.input[1]), "bias": arg(node.input[2]),
             "eps": float(a.get("epsilon", 1e-5))}, (node.input[1], node.input[2]))


def _prelu(m, node, arg, a):
    """ONNX broadcasts the slope from the right; torch's prelu reads it per channel (dim 1)."""
    x = node.input[0]
    slope = m.const(node.input[1], "slope")
    rank, channels = m.rank(x), (m.dims(x) or (None, None))[1]
    if not (slope.size == 1 or (slope.ndim == rank - 1 and slope.shape[0] == channels
                                and all(d == 1 for d in slope.shape[1:]))):
        raise Unmapped("a slope that is not one per channel")
    return F + "prelu", [arg(x), arg(node.input[1], slope.reshape(-1))], {}, (node.input[1],)


def _expand(m, node, arg, a):
    src = m.fold.shape_of.get(node.input[1])
    if src is not None and src in m.where:
        return "Tensor.expand_as", [arg(node.input[0]), arg(src)], {}, ()
    dims = m.fold.dims(node.input[1])     # (batch, 9, 4) read from Shape(x)[0] and constants
    if dims and dims[0] == "batch" and all(isinstance(d, int) for d in dims[1:]) \
            and m.rank(node.input[0]) == len(dims):
        return "Tensor.expand", [arg(node.input[0]), [-1, *dims[1:]]], {}, ()
    raise Unmapped("it expands to a shape not known before the run")


_PICKED = {"Split"}     # ops whose torch call returns a tuple: each node picks its output

TORCH = {
    "Split": _split, "Expand": _expand, "ConvTranspose": _conv_transpose, "InstanceNormalization": _instance_norm,
    "PRelu": _prelu,
    "Slice": _slice,
    "Resize": _resize, "Upsample": _resize,
    "Erf": _unary("torch.erf"), "Sqrt": _unary("torch.sqrt"), "Exp": _unary("torch.exp"),
    "Log": _unary("torch.log"), "Abs": _unary("torch.abs"), "Neg": _unary("torch.neg"),
    "Reciprocal": _unary("torch.reciprocal"), "Floor": _unary("torch.floor"),
    "Ceil": _unary("torch.ceil"), "Sin": _unary("torch.sin"), "Cos": _unary("torch.cos"),
    "Sign": _unary("torch.sign"), "Softplus": _unary(F + "softplus"),
    "Softsign": _unary(F + "softsign"), "HardSwish": _unary(F + "hardswish"),
    "Mish": _unary(F + "mish"), "HardSigmoid": _hardsigmoid,
    "Add": _binary("operator.add"), "Sub": _binary("operator.sub"), "Mul": _binary("operator.mul"),
    "Div": _binary("torch.div"), "Pow": _binary("torch.pow"), "Max": _binary("torch.maximum"),
    "Min": _binary("torch.minimum"), "MatMul": _matmul, "Einsum": _einsum, "Gather": _gather,
    "Where": _where, "Clip": _clip, "Pad": _pad, "Conv": _conv, "AveragePool": _avgpool,
    "GlobalMaxPool": _global_max, "Transpose": _permute, "Cast": _cast,
    "ReduceMean": _reduce("torch.mean"), "ReduceSum": _reduce("torch.sum"),
    "ReduceMax": _reduce("torch.amax"), "ReduceMin": _reduce("torch.amin"),
    "Softmax": _softmax("torch.softmax"), "LogSoftmax": _softmax("torch.log_softmax"),
}


def _infer_one(m, node, name: str):
    """ONNX shape inference for this one node, from the input shapes the import now knows
    (whole-graph inference gives up after a Reshape to a computed shape: "unk__0")."""
    from onnx import helper, numpy_helper
    from workbench.importers.onnx_fold import dims_of
    inputs, inits = [], []
    for n in node.input:
        if not n or n in {i.name for i in inputs} or n in {t.name for t in inits}:
            continue
        if n in m.fold.consts:
            inits.append(numpy_helper.from_array(np.asarray(m.fold.consts[n]), n))
            continue
        d = m.dims(n)
        if d is None:
            return None
        inputs.append(helper.make_tensor_value_info(
            n, m.types.get(n, onnx.TensorProto.FLOAT), [x if x is not None else None for x in d]))
    graph = helper.make_graph([node], "one", inputs,
                              [helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None)], inits)
    model = helper.make_model(graph, opset_imports=list(m.model.opset_import))
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001
        return None
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        if vi.name == name:
            return dims_of(vi)
    return None


class Opaques:
    """Makes the Opaque node for one ONNX node, or records it as not importable."""

    def __init__(self, mapper):
        self.m = mapper
        self.available = catalog.find("Opaque") is not None

    def keep(self, node, reason: str) -> None:
        """One Opaque node per output in use (a Split's pieces each pick theirs)."""
        m = self.m
        if not self.available:
            return m.refuse(node, reason)
        used = [k for k, o in enumerate(node.output) if o and (o in m.consumers or o in m.outputs)]
        build = TORCH.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        for k in used:
            try:
                self._one(node, build, reason, k)
            except (Unmapped, ValueError, TypeError, KeyError, IndexError) as exc:   # OpaqueError is a ValueError
                for o in node.output:
                    m.where.pop(o, None)
                why = str(exc)
                return m.refuse(node, why if why.startswith(reason) else f"{reason}; {why}")

    def _one(self, node, build, reason: str, k: int) -> None:
        if build is not None and (k == 0 or node.op_type in _PICKED):
            try:
                return self._torch(node, build, reason, k)
            except Unmapped:
                pass
            except (ValueError, TypeError, KeyError, IndexError) as exc:   # try the ONNX flavour
                reason = f"{reason}; {exc}"
        self._onnx(node, reason, k)

    def _ports_and_tensors(self):
        ports: list = []
        stored: dict[str, torch.Tensor] = {}
        from workbench.core import opaque

        def arg(name, value=None):
            if value is not None or name in self.m.fold.consts:
                tn = opaque.tensor_name(name)
                while tn in stored:
                    tn += "_"
                stored[tn] = _f32(self.m.fold.consts[name] if value is None else value)
                return {"tensor": tn}
            src = self.m.src(name)
            if src not in ports:
                ports.append(src)
            return {"input": ports.index(src)}
        return ports, stored, arg

    def _torch(self, node, build, reason, k: int = 0) -> None:
        from workbench.core import opaque
        ports, stored, arg = self._ports_and_tensors()
        target, args, kwargs, trainable = build(self.m, node, arg, attrs(node))
        if len(ports) > opaque.MAX_INPUTS:
            raise Unmapped(f"it reads {len(ports)} tensors")
        keep = {t for t in stored if any(t == opaque.tensor_name(n) for n in trainable)}
        params = opaque.torch_params(target, args, kwargs, stored, trainable=keep,
                                     op=target, reason=reason,
                                     pick=k if node.op_type in _PICKED else None)
        self._add(node, params, ports, stored, out=node.output[k])

    def _onnx(self, node, reason, k: int = 0) -> None:
        try:
            from workbench.core.opaque_onnx import onnx_params
        except ImportError:
            raise Unmapped(reason) from None   # ONNX-flavoured Opaque nodes not in this build
        import json
        m = self.m
        which = node.output[k]
        ports, stored, arg = self._ports_and_tensors()
        inputs = [arg(n) if n else None for n in node.input]
        if len(ports) > 4:
            raise Unmapped(f"{reason}; it reads {len(ports)} tensors")
        out = m.dims(which)
        if not out or not all(isinstance(d, int) for d in out[1:]):
            out = _infer_one(m, node, which) or out
        if not out or not (out[0] is None or isinstance(out[0], str) or out[0] == m.fixed_batch):
            raise Unmapped(f"{reason}; its output does not have the batch first")
        if any(not isinstance(d, int) for d in out[1:]):
            raise Unmapped(f"{reason}; its output shape is not known before it runs")
        dtype = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}.get(m.types.get(which))
        if dtype is None:
            raise Unmapped(f"{reason}; its output is not float32 or int64")
        opsets = {o.domain or "": o.version for o in m.model.opset_import}
        params = onnx_params(node, opsets, inputs, {k: v.numpy() for k, v in stored.items()},
                             tuple(out[1:]), dtype, reason=reason, output=k)
        kept = json.loads(params["call"])["tensors"]     # small integer inputs stay in the call
        nid = self._add(node, params, ports, {k: v for k, v in stored.items() if k in kept}, out=which)
        m.graph.set_trainable(nid, False)   # onnxruntime computes no gradient: say so on the node

    def _add(self, node, params, ports, stored, out=None) -> None:
        m = self.m
        nid = m.add(node, "Opaque", params, ports, out=out)
        for name, value in stored.items():
            m.tensors[f"{nid}.{name}"] = value
        m.opaque_count += 1
        return nid
