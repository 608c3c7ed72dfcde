"""The Opaque node's machinery: what an importer could not map to a catalog node keeps running
as one stored call, so an imported model is whole, trainable and exportable.

A stored call is data, never code. Its `target` is a dotted name looked up ONLY in an
allowlist of namespaces Workbench holds by reference (torch tensor functions, torch.linalg /
special / fft, torch.nn.functional, Tensor methods, arithmetic operators, aten ops), never
imported or `getattr`-ed from a name the file chose; anything that reads or writes files,
loads code, compiles or reaches Python's builtins is refused (`OpaqueError`, one line). Its
arguments are a JSON template: `{"input": i}` (the node's i-th input port), `{"tensor": name}`
(a stored tensor: a parameter if trainable, else a buffer, whose values live in the project's
weights file under "<node id>.<name>"), `{"dtype": "float32"}`, `{"slice": [start, stop, step]}`
and plain JSON values (lists for tuples).
"""
from __future__ import annotations

import functools
import inspect
import json
import keyword
import operator
import re
from typing import Callable

import torch
from torch import nn

from workbench.core.spec import ShapeError
from workbench.core.types import BATCH, TensorType

MAX_INPUTS = 4  # ports x0..x3
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16, "int64": torch.int64, "int32": torch.int32,
          "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


class OpaqueError(ValueError):
    """A stored call Workbench will not run; the message is one line for the user."""


# -- the allowlist ---------------------------------------------------------------------------

# Names refused in every namespace: I/O, code loading, compilation, global state, callbacks.
_REFUSED = re.compile(r"(load|save|file|hub|jit|compile|utils|cpp_extension|library|script|"
                      r"serial|pickle|storage|numpy|tolist|hook|backward|grad|seed|set_|"
                      r"apply_|map_|map2_|share_memory|pin_memory|data_ptr|record_stream|"
                      r"cuda|mps|xpu|thread|flags|debug|profil|print|dispatch|handle_|has_torch)", re.I)
_OPERATORS = frozenset({
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs",
    "invert", "and_", "or_", "xor", "lshift", "rshift", "eq", "ne", "lt", "le", "gt", "ge",
    "getitem", "not_", "inv"})
ALLOWED = ("torch.<tensor function>, torch.linalg/special/fft.<function>, "
           "torch.nn.functional.<function>, Tensor.<method>, operator.<arithmetic>, "
           "torch.ops.aten.<op>.<overload>")


@functools.lru_cache(maxsize=None)
def _listed(namespace) -> frozenset[str]:
    return frozenset(dir(namespace))


def _public_function(namespace, name: str) -> Callable | None:
    """`namespace.name` if it is a public function of a torch namespace and not refused."""
    if not name.isidentifier() or name.startswith("_") or _REFUSED.search(name):
        return None
    if name not in _listed(namespace):  # never a getattr on a name the namespace does not list
        return None
    fn = getattr(namespace, name)
    if isinstance(fn, type) or inspect.ismodule(fn) or not callable(fn):
        return None
    module = getattr(fn, "__module__", None)  # None for Tensor methods (C descriptors)
    if module is not None and not module.startswith("torch"):
        return None
    return fn


def _torch_function(name: str) -> Callable | None:
    vf = torch._C._VariableFunctions
    if name in _listed(vf) and _public_function(vf, name) is not None and _public_function(torch, name):
        return getattr(torch, name)
    if name in getattr(torch.functional, "__all__", ()):  # einsum, tensordot, split, ...
        return _public_function(torch, name)
    return None


def resolve(target: str) -> Callable:
    """The callable `target` names, through the allowlist only; OpaqueError otherwise."""
    if not isinstance(target, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*",
                                                       target):
        raise OpaqueError(f"cannot run {str(target)[:60]!r}: not a dotted name")
    parts = target.split(".")
    fn = None
    if parts[0] == "torch" and len(parts) == 2:
        fn = _torch_function(parts[1])
    elif parts[:2] == ["torch", "Tensor"] and len(parts) == 3 or parts[0] == "Tensor" and len(parts) == 2:
        fn = _public_function(torch.Tensor, parts[-1])
    elif parts[:3] == ["torch", "nn", "functional"] and len(parts) == 4:
        fn = _public_function(nn.functional, parts[3])
    elif parts[0] == "torch" and len(parts) == 3 and parts[1] in ("linalg", "special", "fft"):
        fn = _public_function(getattr(torch, parts[1]), parts[2])
    elif parts[0] == "operator" and len(parts) == 2 and parts[1] in _OPERATORS:
        fn = getattr(operator, parts[1])
    elif parts[:3] == ["torch", "ops", "aten"] and len(parts) in (4, 5) or \
            parts[0] == "aten" and len(parts) in (2, 3):
        fn = _aten(parts[3:] if parts[0] == "torch" else parts[1:])
    if fn is None:
        raise OpaqueError(f"cannot run '{target}': not an allowed operation (allowed: {ALLOWED})")
    return fn


def _aten(parts: list[str]) -> Callable | None:
    op, overload = parts[0], parts[1] if len(parts) > 1 else None
    if op.startswith("__") or _REFUSED.search(op) or overload is not None and not overload.isidentifier():
        return None
    try:
        packet = getattr(torch.ops.aten, op)  # an aten op is looked up, never loaded from a library
    except (AttributeError, RuntimeError):
        return None
    if overload is None:
        return packet
    if overload not in packet.overloads():
        return None
    return getattr(packet, overload)


# -- templates ---------------------------------------------------------------------------------

_RESERVED = set(dir(nn.Module)) | {"fn", "call", "target"}


def tensor_name(text: str) -> str:
    """An identifier made of `text` (an ONNX initializer's name, a submodule's attribute path)
    usable as an Opaque module's attribute and state_dict key."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", str(text)).strip("_") or "t"
    if name[0].isdigit():
        name = "t_" + name
    if keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    return name


def _check_template(value, names: set[str], where: str, inputs: list[int]) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:
            raise OpaqueError(f"{where}: NaN is not a plain value")
        return
    if isinstance(value, list):
        for v in value:
            _check_template(v, names, where, inputs)
        return
    if isinstance(value, dict) and len(value) == 1:
        (key, v), = value.items()
        if key == "input" and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_INPUTS:
            inputs.append(v)
            return
        if key == "tensor" and v in names:
            return
        if key == "dtype" and v in DTYPES:
            return
        if key == "slice" and isinstance(v, list) and len(v) == 3 and all(
                x is None or isinstance(x, int) and not isinstance(x, bool) for x in v):
            return
    raise OpaqueError(f"{where}: {json.dumps(value)[:60]} is not an input, a stored tensor, a dtype or "
                      "a plain value")


def parse_call(text: str) -> dict:
    """The stored call, checked: its target resolves, its template refers only to ports and
    stored tensors it has. OpaqueError (one line) otherwise."""
    try:
        call = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise OpaqueError("its stored call is not valid JSON") from None
    if not isinstance(call, dict) or not isinstance(call.get("target"), str):
        raise OpaqueError("its stored call names no target")
    resolve(call["target"])
    tensors = call.get("tensors", {})
    if not isinstance(tensors, dict):
        raise OpaqueError("its stored tensors are not a table")
    for name, info in tensors.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED or keyword.iskeyword(name):
            raise OpaqueError(f"stored tensor name {str(name)[:40]!r} is not a plain identifier")
        if (not isinstance(info, dict) or info.get("dtype") not in DTYPES
                or not isinstance(info.get("shape"), list)
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in info["shape"])):
            raise OpaqueError(f"stored tensor '{name}' needs a shape (whole numbers) and a dtype")
        if info.get("trainable") and not DTYPES[info["dtype"]].is_floating_point:
            raise OpaqueError(f"stored tensor '{name}' is {info['dtype']}: only float tensors can train")
    args, kwargs = call.get("args", []), call.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise OpaqueError("its stored call needs a list of args and a table of kwargs")
    used: list[int] = []
    _check_template(args, set(tensors), "args", used)
    for key, v in kwargs.items():
        if not key.isidentifier():
            raise OpaqueError(f"keyword {key[:40]!r} is not a plain name")
        _check_template(v, set(tensors), f"kwargs.{key}", used)
    pick = call.get("pick")
    if pick is not None and (not isinstance(pick, int) or isinstance(pick, bool) or pick < 0):
        raise OpaqueError("'pick' must be the index of one output")
    call.setdefault("args", args)
    call.setdefault("kwargs", kwargs)
    call["tensors"] = tensors
    call["inputs"] = max(used, default=-1) + 1
    return call


def torch_params(target: str, args: list, kwargs: dict, tensors: dict[str, torch.Tensor],
                 trainable=(), op: str = "", reason: str = "", pick: int | None = None) -> dict:
    """An Opaque node's params for `target(*args, **kwargs)` (see the module docstring for the
    template). `tensors` gives each stored tensor's shape and dtype; their VALUES are not in
    the params: the importer puts them in the project's weights as "<node id>.<name>".
    `pick`: the index of the one output kept when the call returns several."""
    table = {}
    for name, t in tensors.items():
        if name != tensor_name(name):
            raise OpaqueError(f"stored tensor name {name!r} is not a plain identifier: use tensor_name()")
        if t.dtype not in _DTYPE_NAMES:
            raise OpaqueError(f"stored tensor '{name}' has an unsupported dtype {t.dtype}")
        table[name] = {"shape": list(t.shape), "dtype": _DTYPE_NAMES[t.dtype],
                       "trainable": name in set(trainable)}
    unknown = set(trainable) - set(tensors)
    if unknown:
        raise OpaqueError(f"trainable names no stored tensor: {', '.join(sorted(unknown))}")
    call = {"target": target, "args": list(args), "kwargs": dict(kwargs), "tensors": table}
    if pick is not None:
        call["pick"] = pick
    try:
        text = json.dumps(call, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OpaqueError(f"the call of {target} is not plain JSON data: {exc}") from None
    parse_call(text)
    return {"op": op or target, "reason": reason, "source": "torch", "call": text,
            "out_shape": "", "out_dtype": "float32"}


# -- the module ---------------------------------------------------------------------------------

class OpaqueModule(nn.Module):
    """Runs one stored call: its stored tensors are parameters (trainable) or buffers, under
    their own names (so the weights key of tensor `w` of node n7 is "n7.w")."""


    def __init__(self, call: str, op: str = ""):
        super().__init__()
        parsed = parse_call(call)
        self.op = op or parsed["target"]
        self.target = parsed["target"]
        self.fn = resolve(parsed["target"])
        self.args, self.kwargs, self.pick = parsed["args"], parsed["kwargs"], parsed.get("pick")
        self.tensor_specs = parsed["tensors"]
        for name, info in parsed["tensors"].items():
            value = torch.zeros(info["shape"], dtype=DTYPES[info["dtype"]])
            if info.get("trainable"):
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def _fill(self, value, xs):
        if isinstance(value, list):
            return [self._fill(v, xs) for v in value]
        if isinstance(value, dict):
            (key, v), = value.items()
            if key == "input":
                return xs[v]
            if key == "tensor":
                return getattr(self, v)
            if key == "dtype":
                return DTYPES[v]
            return slice(*v)
        return value

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        args = [self._fill(a, xs) for a in self.args]
        if self.target == "operator.getitem" and len(args) == 2 and isinstance(args[1], list):
            args[1] = tuple(args[1])  # x[:, 0] is getitem(x, (slice, 0)); JSON has only lists
        out = self.fn(*args, **{k: self._fill(v, xs) for k, v in self.kwargs.items()})
        if self.pick is not None:
            out = out[self.pick]
        return out

    def extra_repr(self) -> str:
        return f"op={self.op!r}"


# -- the shape rule ---------------------------------------------------------------------------

def infer_torch(params: dict, ins: dict[str, TensorType]) -> TensorType:
    """Run the call on the meta device twice (batch 2 and 3, named sizes at two other values):
    a dimension that follows the batch is "batch", one that follows a named size takes its name."""
    ports = connected_inputs(ins)
    key = json.dumps([params["call"], [[list(map(str, t.shape)), t.dtype] for t in ports]])
    if key not in _infer_cache:
        if len(_infer_cache) > 512:
            _infer_cache.clear()
        _infer_cache[key] = _infer_torch(params, ports)
    return _infer_cache[key]


_infer_cache: dict[str, TensorType] = {}


def connected_inputs(ins: dict[str, TensorType]) -> list[TensorType]:
    """The connected ports x0, x1, ... in order; a gap would shift the inputs the call reads."""
    ports = [ins.get(f"x{i}") for i in range(MAX_INPUTS)]
    count = sum(t is not None for t in ports)
    if any(t is None for t in ports[:count]):
        raise ShapeError("its inputs must be connected in order, x0 first, without a gap")
    return ports[:count]


def _infer_torch(params: dict, ports: list[TensorType]) -> TensorType:
    try:
        with torch.device("meta"):
            module = OpaqueModule(params["call"], params.get("op", ""))
    except OpaqueError as exc:
        raise ShapeError(str(exc)) from None
    need = parse_call(params["call"])["inputs"]
    if need > len(ports):
        raise ShapeError(f"{module.op} reads input x{need - 1}: connect x0 to x{need - 1}")
    named = sorted({d for t in ports if t is not None for d in t.shape[1:] if not isinstance(d, int)})
    results = []
    for run, batch in enumerate((2, 3)):
        sizes = {name: 5 + 2 * k + run for k, name in enumerate(named)}
        xs = []
        for t in ports:
            if t is None:
                break
            shape = [batch] + [d if isinstance(d, int) else sizes[d] for d in t.shape[1:]]
            xs.append(torch.empty(shape, dtype=DTYPES[t.dtype], device="meta"))
        try:
            with torch.no_grad():
                out = module(*xs)
        except Exception as exc:  # noqa: BLE001 - the op's own complaint about these shapes
            text = " ".join(str(exc).split())[:200]
            raise ShapeError(f"{module.op} fails on inputs "
                             + ", ".join(str(t) for t in ports if t is not None) + f": {text}") from None
        if not isinstance(out, torch.Tensor):
            raise ShapeError(f"{module.op} does not return one tensor (set 'pick' in its call)")
        results.append((tuple(out.shape), sizes))
    (a, sizes_a), (b, sizes_b) = results
    if len(a) != len(b) or not a or (a[0], b[0]) != (2, 3):
        raise ShapeError(f"{module.op}: its output does not keep the batch as its first dimension")
    shape: list = [BATCH]
    for da, db in zip(a[1:], b[1:]):
        if da == db:
            shape.append(da)
        else:
            shape.append(next((n for n in named if (sizes_a[n], sizes_b[n]) == (da, db)), "?"))
    dtype = _DTYPE_NAMES.get(out.dtype)
    if dtype not in ("float32", "int64"):
        raise ShapeError(f"{module.op} gives {dtype} values: Workbench tensors are float32 or int64")
    return TensorType(tuple(shape), dtype)


def ports_read(params: dict) -> int:
    """How many input ports (x0…) the node's stored call reads, so the canvas draws only
    those; all of them when the call cannot be read (its problem is shown on the node)."""
    try:
        if params.get("source") == "onnx":
            call = json.loads(params.get("call", ""))
            used = [e["input"] for e in call.get("inputs", []) if isinstance(e, dict) and type(e.get("input")) is int]
            return max(1, min(MAX_INPUTS, max(used, default=0) + 1))
        return max(1, min(MAX_INPUTS, parse_call(params.get("call", ""))["inputs"]))
    except (OpaqueError, ValueError, TypeError, AttributeError, KeyError):
        return MAX_INPUTS
