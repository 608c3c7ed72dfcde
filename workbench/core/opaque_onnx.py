"""The Opaque node's ONNX flavour: one node of an imported ONNX graph that no catalog node and no
torch function expresses, run by onnxruntime (CPU) as a one-node model.

To PyTorch it is one custom op, `torch.ops.workbench.onnx_opaque(call, feed)`, with a fake
(meta) kernel that gives the recorded output shape, so torch.fx, torch.export and the ONNX
exporter see a single op; workbench/export/onnx_opaque.py puts the original node back into an
exported ONNX file. It has no gradient: its stored tensors are buffers (frozen) and what flows
into it is detached, so the layers before it do not learn through it.

The stored NodeProto is data: it is only ever given to onnxruntime (no Python runs from it),
and its stored tensors are fed as inputs (float weights, whose values live in the weights file
like any layer's) or written into the one-node model as initializers (small integer
constants: shapes, axes, pads, which shape inference needs to see).
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading

import numpy as np
import torch
from torch import nn

from workbench.core.opaque import DTYPES, MAX_INPUTS, OpaqueError, connected_inputs, tensor_name
from workbench.core.spec import ShapeError
from workbench.core.types import BATCH, TensorType, parse_dims

INLINE_LIMIT = 4096  # integer/bool tensors up to this many values are constants in the call
SETTING_LIMIT = 16   # float tensors this small are settings (Resize scales, Clip bounds): kept too
_NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int64": np.int64,
       "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}
_NP_NAMES = {np.dtype(v): k for k, v in _NP.items()}


def _onnx_type(dtype: str) -> int:
    import onnx
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(_NP[dtype]))


def onnx_params(node, opset_imports: dict[str, int], inputs: list, tensors: dict[str, np.ndarray],
                out_shape: tuple, out_dtype: str, reason: str = "", output: int = 0) -> dict:
    """An Opaque node's params for the ONNX `node` (a NodeProto). `inputs`: per ONNX input of
    the node, `{"input": i}` (port x<i>), `{"tensor": name}` (a stored tensor) or None (an
    omitted optional input). `out_shape`: the per-sample shape of output number `output`.
    Float tensors' values go to the project's weights ("<node id>.<name>", by the importer);
    small ones, and integer ones, are kept in the call: they are the op's settings (scales,
    bounds, axes), which shape inference and the trial run must see, not weights (an
    onnxruntime node never trains)."""
    if len(inputs) != len(node.input):
        raise OpaqueError(f"ONNX {node.op_type}: {len(inputs)} inputs given for {len(node.input)}")
    table, constants = {}, {}
    for name, value in tensors.items():
        value = np.asarray(value)
        if name != tensor_name(name):
            raise OpaqueError(f"stored tensor name {name!r} is not a plain identifier: use tensor_name()")
        dtype = _NP_NAMES.get(value.dtype)
        if dtype is None:
            raise OpaqueError(f"stored tensor '{name}' has an unsupported dtype {value.dtype}")
        floating = np.issubdtype(value.dtype, np.floating)
        if value.size <= (SETTING_LIMIT if floating else INLINE_LIMIT):
            constants[name] = {"dtype": dtype, "shape": list(value.shape), "values": value.reshape(-1).tolist()}
        else:
            table[name] = {"dtype": dtype, "shape": list(value.shape), "trainable": False}
    for entry in inputs:
        if entry is not None and not (isinstance(entry, dict) and len(entry) == 1 and (
                entry.get("tensor") in tensors or isinstance(entry.get("input"), int)
                and 0 <= entry["input"] < MAX_INPUTS)):
            raise OpaqueError(f"ONNX {node.op_type}: input {entry!r} is not a port, a stored tensor or None")
    if out_dtype not in ("float32", "int64"):
        raise OpaqueError(f"ONNX {node.op_type}: output dtype {out_dtype} is not float32 or int64")
    shape = [int(d) for d in out_shape]
    call = {"node": base64.b64encode(node.SerializeToString()).decode("ascii"),
            "opsets": {str(k): int(v) for k, v in opset_imports.items()},
            "inputs": list(inputs), "tensors": table, "constants": constants,
            "out_shape": shape, "out_dtype": out_dtype, "output": int(output)}
    text = json.dumps(call, sort_keys=True)
    parse_call(text)
    return {"op": f"ONNX {node.op_type}", "reason": reason, "source": "onnx", "call": text,
            "out_shape": ",".join(map(str, shape)), "out_dtype": out_dtype}


def parse_call(text: str) -> dict:
    """The stored call checked (a NodeProto that parses, plain tables); OpaqueError otherwise."""
    import onnx
    try:
        call = json.loads(text)
        node = onnx.NodeProto()
        node.ParseFromString(base64.b64decode(call["node"], validate=True))
    except Exception:  # noqa: BLE001 - any malformed call is the same one-line refusal
        raise OpaqueError("its stored ONNX node does not parse") from None
    if not isinstance(call.get("tensors"), dict) or not isinstance(call.get("constants"), dict) \
            or not isinstance(call.get("inputs"), list) or not isinstance(call.get("opsets"), dict):
        raise OpaqueError("its stored ONNX call is incomplete")
    for name, info in {**call["tensors"], **call["constants"]}.items():
        if name != tensor_name(name) or info.get("dtype") not in _NP:
            raise OpaqueError(f"stored tensor {str(name)[:40]!r} needs a plain name and a known dtype")
    stored = set(call["tensors"]) | set(call["constants"])
    for entry in call["inputs"]:
        if entry is not None and not (isinstance(entry, dict) and len(entry) == 1 and (
                entry.get("tensor") in stored or type(entry.get("input")) is int and 0 <= entry["input"] < MAX_INPUTS)):
            raise OpaqueError(f"its stored ONNX input {json.dumps(entry)[:40]} is not a port, a stored tensor or null")
    if call.get("out_dtype") not in ("float32", "int64") or not isinstance(call.get("out_shape"), list) \
            or not all(type(d) is int and d >= 0 for d in call["out_shape"]) \
            or type(call.get("output")) is not int or not 0 <= call["output"] < max(len(node.output), 1):
        raise OpaqueError("its stored ONNX call has no valid output shape, dtype or index")
    ports = [e["input"] for e in call["inputs"] if isinstance(e, dict) and "input" in e]
    call["ports"] = max(ports, default=-1) + 1
    call["proto"] = node
    return call


# -- running it ------------------------------------------------------------------------------

_sessions: dict[tuple, object] = {}
_lock = threading.Lock()


def one_node_model(call: dict, feed_types: list[tuple[str, list]]):
    """A one-node ONNX model of the stored node: graph inputs in0.. for the fed values (ports and
    stored float tensors, in feed order), the constants as initializers, output `out`."""
    import onnx
    from onnx import helper
    node = onnx.NodeProto()
    node.CopyFrom(call["proto"])
    feed_index = _feed_index(call)
    inits, graph_inputs = [], []
    for k, (dtype, shape) in enumerate(feed_types):
        graph_inputs.append(helper.make_tensor_value_info(f"in{k}", _onnx_type(dtype), shape))
    del node.input[:]
    for entry in call["inputs"]:
        if entry is None:
            node.input.append("")
        elif "input" in entry:
            node.input.append(f"in{feed_index['input', entry['input']]}")
        elif entry["tensor"] in call["constants"]:
            c = call["constants"][entry["tensor"]]
            name = f"const_{entry['tensor']}"
            if name not in {i.name for i in inits}:
                inits.append(helper.make_tensor(name, _onnx_type(c["dtype"]), c["shape"],
                                                np.asarray(c["values"], dtype=_NP[c["dtype"]]).reshape(-1).tolist()))
            node.input.append(name)
        else:
            node.input.append(f"in{feed_index['tensor', entry['tensor']]}")
    outputs = [f"unused{k}" for k in range(len(node.output))]
    outputs[call["output"]] = "out"
    del node.output[:]
    node.output.extend(outputs)
    graph = helper.make_graph([node], "opaque", graph_inputs,
                              [helper.make_tensor_value_info("out", _onnx_type(call["out_dtype"]), None)],
                              initializer=inits)
    opsets = [helper.make_opsetid(d, v) for d, v in call["opsets"].items()]
    return helper.make_model(graph, opset_imports=opsets)


def _feed_index(call: dict) -> dict:
    """Where each port and stored float tensor sits in the op's feed: ports x0.. first, then the
    stored tensors by name (the same order OpaqueOnnxModule passes them)."""
    index = {("input", i): i for i in range(call["ports"])}
    for k, name in enumerate(sorted(call["tensors"])):
        index["tensor", name] = call["ports"] + k
    return index


def _session(text: str, dtypes: tuple, ranks: tuple):
    key = (hashlib.sha256(text.encode()).hexdigest(), dtypes, ranks)
    with _lock:
        if key not in _sessions:
            import onnxruntime as ort
            call = parse_call(text)
            feed = [(d, [None] * r) for d, r in zip(dtypes, ranks)]
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            model = one_node_model(call, feed)
            _sessions[key] = (ort.InferenceSession(model.SerializeToString(), opts,
                                                   providers=["CPUExecutionProvider"]), len(feed))
        return _sessions[key]


@torch.library.custom_op("workbench::onnx_opaque", mutates_args=())
def onnx_opaque(call: str, feed: list[torch.Tensor]) -> torch.Tensor:
    """Run the stored ONNX node on `feed` (ports, then stored tensors) with onnxruntime."""
    arrays = [t.detach().cpu().numpy() for t in feed]
    dtypes = tuple(_NP_NAMES[a.dtype] for a in arrays)
    sess, _ = _session(call, dtypes, tuple(a.ndim for a in arrays))
    out = sess.run(["out"], {f"in{k}": a for k, a in enumerate(arrays)})[0]
    return torch.from_numpy(np.ascontiguousarray(out)).to(feed[0].device)


@onnx_opaque.register_fake
def _(call, feed):
    info = json.loads(call)
    return feed[0].new_empty((feed[0].shape[0], *info["out_shape"]), dtype=DTYPES[info["out_dtype"]])


class OpaqueOnnxModule(nn.Module):
    """An ONNX node run by onnxruntime; its stored float tensors are buffers (frozen) under
    their own names."""

    def __init__(self, call: str, op: str = ""):
        super().__init__()
        parsed = parse_call(call)
        self.call, self.op = call, op or f"ONNX {parsed['proto'].op_type}"
        self.ports = parsed["ports"]
        self.names = sorted(parsed["tensors"])
        for name in self.names:
            info = parsed["tensors"][name]
            self.register_buffer(name, torch.zeros(info["shape"], dtype=DTYPES[info["dtype"]]))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        # Under autocast a port may arrive as float16/bfloat16: run the node in float32, as imported.
        feed = [x.detach().float() if x.dtype in (torch.float16, torch.bfloat16) else x.detach()
                for x in xs[: self.ports]] + [getattr(self, n) for n in self.names]
        return torch.ops.workbench.onnx_opaque(self.call, feed)

    def extra_repr(self) -> str:
        return f"op={self.op!r}"


def build(params: dict, ins: dict) -> OpaqueOnnxModule:
    return OpaqueOnnxModule(params["call"], params.get("op", ""))


# -- the shape rule ------------------------------------------------------------------------------

_infer_cache: dict[str, TensorType] = {}


def infer(params: dict, ins: dict[str, TensorType]) -> TensorType:
    """The recorded output shape, after ONNX shape inference on these input types agrees with
    it (a rank or size the node was not imported for is a problem on the node)."""
    ports = connected_inputs(ins)
    key = json.dumps([params["call"], params["out_shape"], params["out_dtype"],
                      [[list(map(str, t.shape)), t.dtype] for t in ports]])
    if key not in _infer_cache:
        if len(_infer_cache) > 512:
            _infer_cache.clear()
        _infer_cache[key] = _infer(params, ports)
    return _infer_cache[key]


def _infer(params: dict, ports: list[TensorType]) -> TensorType:
    import onnx
    try:
        call = parse_call(params["call"])
    except OpaqueError as exc:
        raise ShapeError(str(exc)) from None
    op = params.get("op") or f"ONNX {call['proto'].op_type}"
    if call["ports"] > len(ports):
        raise ShapeError(f"{op} reads input x{call['ports'] - 1}: connect x0 to x{call['ports'] - 1}")
    recorded = parse_dims(params["out_shape"])
    if not all(isinstance(d, int) for d in recorded):
        raise ShapeError(f"{op}: its recorded output shape must be whole numbers, not {params['out_shape']!r}")
    feed = [(t.dtype, [BATCH if d == BATCH else d if isinstance(d, int) else None for d in t.shape])
            for t in ports[: call["ports"]]]
    feed += [(call["tensors"][n]["dtype"], call["tensors"][n]["shape"]) for n in sorted(call["tensors"])]
    model = one_node_model(call, feed)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # noqa: BLE001 - ONNX's own complaint about these shapes
        text = " ".join(str(exc).split())[-200:]
        raise ShapeError(f"{op} does not accept inputs " + ", ".join(str(t) for t in ports)
                         + f": {text}") from None
    out = next((v for v in inferred.graph.output if v.name == "out"), None)
    dims = out.type.tensor_type.shape.dim if out is not None and out.type.tensor_type.HasField("shape") else None
    want = (BATCH, *recorded)
    if dims is not None:
        got = [d.dim_value if d.HasField("dim_value") else d.dim_param or "?" for d in dims]
        got[0] = BATCH if not isinstance(got[0], int) else got[0]
        _compare(op, want, got)
    if all(isinstance(d, int) for t in ports for d in t.shape[1:]):
        _compare(op, want, _trial_run(op, params["call"], ports[: call["ports"]], call))
    return TensorType(want, params["out_dtype"])


def _compare(op: str, want: tuple, got: list) -> None:
    if len(got) != len(want) or got[0] != BATCH or any(
            isinstance(g, int) and g != w for g, w in zip(got[1:], want[1:])):
        raise ShapeError(f"{op} was imported giving {TensorType(want)}; these inputs give "
                         f"{TensorType(tuple(got))}")


def _trial_run(op: str, text: str, ports: list[TensorType], call: dict) -> list:
    """Run the node once on zeros at batch 2 (shape inference does not check every size): the
    ONNX counterpart of the torch flavour's meta-device run."""
    feed = [torch.zeros((2, *t.shape[1:]), dtype=DTYPES[t.dtype]) for t in ports]
    feed += [torch.zeros(call["tensors"][n]["shape"], dtype=DTYPES[call["tensors"][n]["dtype"]])
             for n in sorted(call["tensors"])]
    try:
        out = onnx_opaque(text, feed)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own complaint about these shapes
        text = " ".join(str(exc).split())[-200:]
        raise ShapeError(f"{op} does not accept inputs " + ", ".join(str(t) for t in ports)
                         + f": {text}") from None
    return [BATCH if i == 0 and d == 2 else d for i, d in enumerate(out.shape)]
