"""ONNX nodes → catalog nodes with weights; what has no catalog node → Opaque (onnx_opaque).

One `op_<OpType>` method per mapped op type. A method raises `Unmapped(reason)` when this
node's attributes or inputs fall outside what the catalog node computes (asymmetric padding,
a broadcast Add, …); the node then becomes an Opaque node, so the graph stays whole.

Recurrent layers are in onnx_recurrent, multi-op patterns (GELU, SiLU, LayerNorm, Pad+Conv)
in onnx_fuse.
"""
from __future__ import annotations

import numpy as np
import onnx
import torch

from workbench.core import catalog, files
from workbench.core.compile import identifier
from workbench.core.graph import Graph, GraphError, unique_name
from workbench.importers.onnx_common import Unmapped, _f32, _one, attrs, reduce_axes, title_of
from workbench.importers.onnx_fold import Folded, dims_of
from workbench.importers.onnx_fuse import fuse
from workbench.importers.onnx_recurrent import RecurrentOps
from workbench.importers.result import ImportError_

_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}
_RECURRENT = ("LSTM", "GRU", "RNN")

__all__ = ["Mapper", "Unmapped", "attrs", "_f32"]


class Mapper(RecurrentOps):
    def __init__(self, model: onnx.ModelProto, opset: int, path, opaques):
        self.model, self.opset, self.path = model, opset, path
        g = model.graph
        self.nodes = list(g.node)
        self.shapes: dict[str, tuple | None] = {}
        self.types: dict[str, int] = {}
        for vi in (*g.input, *g.value_info, *g.output):
            self.shapes[vi.name] = dims_of(vi)
            if vi.type.HasField("tensor_type"):
                self.types[vi.name] = vi.type.tensor_type.elem_type
        inits = {t.name for t in g.initializer}
        self.inputs = [i for i in g.input if i.name not in inits]
        self.outputs = [o.name for o in g.output]
        self.batch_names: set[str] = set()
        self.fixed_batch: int | None = None
        for i in self.inputs:
            dims = self.shapes.get(i.name) or ()
            if dims and isinstance(dims[0], str):
                self.batch_names.add(dims[0])
            elif dims and isinstance(dims[0], int):
                self.fixed_batch = dims[0]
        self.fold = Folded(model, self.shapes, self.batch_names)
        self.consumers: dict[str, list[int]] = {}
        for k, node in enumerate(self.nodes):
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(k)
        self.graph = Graph()
        self.tensors: dict[str, torch.Tensor] = {}
        self.where: dict[str, tuple[str, str]] = {}
        self.views: dict[str, tuple] = {}           # LSTM outputs in time-major layouts
        self.time_major: dict[str, tuple[str, str]] = {}
        self.lstm_all: dict[str, str] = {}          # ONNX name -> LSTM node returning all steps
        self.done: set[int] = set()
        self.fused: dict[int, tuple] = {}
        self.pad_conv: dict[str, tuple] = {}        # Conv output -> (input, padding, mode)
        self.pad_conv_index: dict[int, str] = {}    # Conv node index -> the Pad's input
        self.problems: list[str] = []
        self.missing: set[str] = set()
        self.late: set[str] = set()                 # values folded while mapping (_fold_late)
        self.input_names: dict[str, str] = {}       # compiled input name -> ONNX input name
        self.output_names: dict[str, str] = {}      # ONNX output name -> compiled output name
        self.opaque_count = 0
        self._analysis = None                       # (graph size, analysis) for dims()
        self.opaque = opaques(self)   # onnx_opaque.Opaques: what has no catalog node

    # -- the walk -----------------------------------------------------------------------------
    def run(self):
        self._inputs()
        fuse(self)
        for k, node in enumerate(self.nodes):
            if k in self.fold.folded_nodes or k in self.done:
                continue
            used = [o for o in node.output if o and (o in self.consumers or o in self.outputs)]
            if not used:
                continue
            reads = list(node.input) + ([self.fused[k][1]] if k in self.fused else [])
            if k in self.pad_conv_index:
                reads.append(self.pad_conv_index[k])
            if any(i in self.missing for i in reads if i):
                self.missing.update(node.output)
                continue
            if self._fold_late(node):
                continue
            try:
                if k in self.fused:
                    self._emit_fused(node, self.fused[k])
                    continue
                handler = getattr(self, "op_" + node.op_type, None) if node.domain in ("", "ai.onnx") else None
                if handler is None:
                    raise Unmapped(f"no Workbench node for {files.short(node.op_type, 60)}")
                handler(node)
            except Unmapped as exc:
                self.opaque.keep(node, str(exc))
            except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
                # attributes this mapper did not expect (a hostile or unusual file): keep the
                # node as it is rather than fail
                self.opaque.keep(node, f"its attributes are not what Workbench reads "
                                       f"({files.short(str(exc) or type(exc).__name__, 100)})")
        self._outputs()
        if self.problems:
            n = len(self.problems)
            shown = ", ".join(self.problems[:6]) + (", …" if n > 6 else "")
            if self.opaque.available:
                raise ImportError_(f"{self.path}: cannot import: {n} op{'s' if n > 1 else ''} "
                                   f"cannot be kept: {shown}")
            raise ImportError_(f"cannot import: {n} op{'s' if n > 1 else ''} "
                               f"{'have' if n > 1 else 'has'} no Workbench node yet: {shown}")
        report = [f"{len(self.nodes)} ONNX nodes became {len(self.graph.nodes)} Workbench nodes"
                  + (f", {self.opaque_count} of them Opaque" if self.opaque_count else "")]
        return self.graph, self.tensors, report

    def _fold_late(self, node) -> bool:
        """Fold a Shape whose input's shape only Workbench's analysis knows (ONNX inference
        lost it), and what is computed from such values, now that the input is mapped."""
        ins = [i for i in node.input if i]
        if node.op_type in ("Shape", "Size") and ins and ins[0] in self.where:
            dims = self.dims(ins[0])
            done = dims is not None and self.fold._fold_shape(node, dims, self.batch_names)
        elif ins and any(i in self.late for i in ins) and all(self.fold.known(i) for i in ins):
            try:
                done = self.fold._fold(node, self.shapes, self.batch_names)
            except Exception:  # noqa: BLE001 - not foldable: mapped as a node instead
                done = False
        else:
            return False
        if done:
            self.late.update(node.output)
        return bool(done)

    def refuse(self, node, reason: str) -> None:
        self.problems.append(f"{files.short(node.op_type, 40)} (node '{files.short(node.name or '?', 80)}'" +
                             (f": {reason})" if self.opaque.available else ")"))
        self.missing.update(node.output)

    def _inputs(self) -> None:
        for vi in self.inputs:
            shown = files.short(vi.name, 80)
            dims = self.shapes.get(vi.name)
            dtype = _DTYPES.get(self.types.get(vi.name))
            if dtype is None:
                raise ImportError_(f"{self.path}: input '{shown}' is not float32 or int64: "
                                   "Workbench inputs are one of those")
            if not dims:
                raise ImportError_(f"{self.path}: input '{shown}' has no batch dimension")
            rest = []
            for k, d in enumerate(dims[1:], 1):
                if d is None or (isinstance(d, str) and not d.isidentifier()):
                    raise ImportError_(f"{self.path}: input '{shown}' has an unknown size at "
                                       f"axis {k}")
                rest.append(str(d))
            name = unique_name(identifier(vi.name), set(self.input_names))
            node = self.graph.add_node("Input", self.graph.unique_title(name), {
                "name": name, "shape": ",".join(rest), "dtype": dtype})
            self.where[vi.name] = (node.id, "out")
            self.input_names[name] = vi.name

    def _outputs(self) -> None:
        for name in self.outputs:
            if name in self.missing:
                continue
            if name not in self.where:
                raise ImportError_(f"{self.path}: output '{files.short(name, 80)}' is "
                                   + ("a constant" if self.fold.known(name) else
                                      "not computed from the inputs") + ": nothing to import")
            ours = unique_name(identifier(name), set(self.output_names.values()))
            self.output_names[name] = ours
            out = self.graph.add_node("Output", self.graph.unique_title(ours), {"name": ours})
            src = self.where[name]
            self.graph.connect(src[0], src[1], out.id, "in")

    def batch_sizes(self) -> tuple[int, ...]:
        return (self.fixed_batch,) if self.fixed_batch else (2, 3)

    # -- helpers ------------------------------------------------------------------------------
    def src(self, name: str) -> tuple[str, str]:
        if name in self.where:
            return self.where[name]
        if name in self.views or name in self.time_major:
            raise Unmapped(f"reads '{name}' in the time-major layout of a recurrent layer")
        if name in self.fold.batched and self._filled(name):
            return self.where[name]
        if name in self.fold.batched:
            raise Unmapped(f"'{name}' is computed from the input's sizes alone (it changes with "
                           "the batch size or sequence length), where a tensor is expected")
        if self.fold.known(name):
            raise Unmapped(f"a constant '{name}' where a computed tensor is expected")
        raise Unmapped(f"its input '{name}' is not available")

    def _filled(self, name: str) -> bool:
        """A batch-sized constant tensor (`zeros_like(x)`, `ones_like(x)`: ConstantOfShape or
        Expand of one value to Shape(x)) read as data: an Opaque `torch.full_like(x, value)`."""
        node = next((n for n in self.nodes if name in n.output), None)
        if node is None or node.op_type not in ("ConstantOfShape", "Expand"):
            return False
        shape = node.input[0] if node.op_type == "ConstantOfShape" else node.input[1]
        src = self.fold.shape_of.get(shape)
        value = self.fold.batched[name][0]
        if value.size == 0 or not np.all(value == value.reshape(-1)[0]):
            return False
        fill = value.reshape(-1)[0].item()
        from workbench.core import opaque
        reason = f"no Workbench node for {node.op_type}"
        if src in self.where:
            params = opaque.torch_params("torch.full_like", [{"input": 0}, fill], {}, {},
                                         op="torch.full_like", reason=reason)
            self.add(node, "Opaque", params, [src], out=name)
            self.opaque_count += 1
            return True
        # the shape is (batch, 1, 4) built from Shape(x)[0]: x[:, 0, …] → ones → · the value
        dims, src = self.fold.dims(shape), self.fold.batch_source.get(shape)
        x = self.dims(src) if src in self.where else None
        if not (dims and dims[0] == "batch" and all(isinstance(d, int) for d in dims[1:]) and x
                and self.types.get(src, 1) == onnx.TensorProto.FLOAT):
            return False
        index = [{"slice": [None, None, None]}] + [0] * (len(x) - 1)
        steps = [
            ("operator.getitem", [{"input": 0}, index], {}, {}),
            ("torch.full_like", [{"input": 0}, 1.0], {}, {}),
            ("torch.einsum", ["b,...->b...", {"input": 0}, {"tensor": "value"}], {},
             {"value": torch.full(tuple(dims[1:]), float(fill))}),
        ]
        prev = self.where[src]
        for k, (target, args, kwargs, stored) in enumerate(steps):
            params = opaque.torch_params(target, args, kwargs, stored, op=target, reason=reason)
            nid = self.add(node, "Opaque", params, [prev], stored, out=name if k == 2 else False)
            prev = (nid, "out")
            self.opaque_count += 1
        return True

    def runtime(self, name: str) -> bool:
        return name in self.where or (name in self.fold.batched and self._filled(name))

    def const(self, name: str, what: str = "") -> np.ndarray:
        if name in self.fold.consts:
            return self.fold.consts[name]
        raise Unmapped(f"its {what or 'input'} '{name}' is not a constant")

    def dims(self, name: str) -> tuple | None:
        """ONNX shape inference's dims of `name`; where it gave up (a Reshape to a computed
        shape), the shape Workbench's own analysis gives the node that computes it."""
        d = self.shapes.get(name)
        if (d is None or not all(isinstance(x, int) for x in d[1:])) and name in self.where:
            from workbench.core.analysis import analyse
            nid, port = self.where[name]
            key = (len(self.graph.nodes), len(self.graph.edges))
            if self._analysis is None or self._analysis[0] != key:
                self._analysis = (key, analyse(self.graph))
            t = self._analysis[1].outputs.get(nid, {}).get(port)
            if t is not None and all(isinstance(x, int) for x in t.shape[1:]):
                d = self.shapes[name] = tuple(t.shape)
        return d

    def sample(self, name: str) -> tuple | None:
        """The per-sample shape (no batch) when every dim is known, else None."""
        d = self.dims(name)
        if not d or any(not isinstance(x, int) for x in d[1:]):
            return None
        return tuple(d[1:])

    def rank(self, name: str) -> int:
        d = self.dims(name)
        if d is None:
            raise Unmapped(f"the rank of '{name}' is unknown")
        return len(d)

    def add(self, onnx_node, type: str, params: dict, srcs: list, weights: dict | None = None,
            out: str | bool | None = None) -> str:
        spec = catalog.find(type)
        try:
            node = self.graph.add_node(type, self.graph.unique_title(title_of(onnx_node, onnx_node.op_type)),
                                       params)
        except GraphError as exc:
            raise Unmapped(str(exc)) from None
        for port, s in zip(spec.inputs, srcs):
            src = s if isinstance(s, tuple) else self.src(s)
            self.graph.connect(src[0], src[1], node.id, port.name)
        for key, value in (weights or {}).items():
            self.tensors[f"{node.id}.{key}"] = value if isinstance(value, torch.Tensor) else _f32(value)
        if out is not False:     # False: the output is a view the caller registers (recurrent)
            self.where[out or onnx_node.output[0]] = (node.id, "out")
        return node.id

    def only_consumer(self, name: str) -> int | None:
        users = self.consumers.get(name, [])
        if len(users) == 1 and name not in self.outputs:
            return users[0]
        return None

    def alias(self, node) -> None:
        self.where[node.output[0]] = self.src(node.input[0])

    # -- pass-through -------------------------------------------------------------------------
    def op_Identity(self, node):
        self.alias(node)

    def op_Dropout(self, node):
        if len(node.output) > 1 and node.output[1] and node.output[1] in self.consumers:
            raise Unmapped("its mask output is used")
        if len(node.input) > 2 and node.input[2]:
            if not (node.input[2] in self.fold.consts and not self.fold.consts[node.input[2]]):
                raise Unmapped("training_mode is not a constant false")
        self.alias(node)

    # -- activations --------------------------------------------------------------------------
    def _act(self, node, type, params=None):
        if self.types.get(node.input[0], 1) != onnx.TensorProto.FLOAT:
            raise Unmapped("its input is not float32")
        self.add(node, type, params or {}, [node.input[0]])

    def op_Relu(self, node):
        self._act(node, "ReLU")

    def op_Sigmoid(self, node):
        self._act(node, "Sigmoid")

    def op_Tanh(self, node):
        self._act(node, "Tanh")

    def op_LeakyRelu(self, node):
        self._act(node, "LeakyReLU", {"negative_slope": float(attrs(node).get("alpha", 0.01))})

    def op_Elu(self, node):
        self._act(node, "ELU", {"alpha": float(attrs(node).get("alpha", 1.0))})

    def op_Gelu(self, node):
        self._act(node, "GELU", {"approximate": attrs(node).get("approximate", "none")})

    def _softmax(self, node, type):
        rank = self.rank(node.input[0])
        axis = attrs(node).get("axis", -1 if self.opset >= 13 else 1) % rank
        if axis == 0:
            raise Unmapped("it normalises over the batch")
        if self.opset < 13 and axis != rank - 1:
            raise Unmapped(f"opset {self.opset} flattens the axes from {axis} on")
        self._act(node, type, {"dim": axis - rank})

    def op_Softmax(self, node):
        self._softmax(node, "Softmax")

    def op_LogSoftmax(self, node):
        self._softmax(node, "LogSoftmax")

    def _emit_fused(self, node, fused):
        kind, x = fused[:2]
        if kind == "gelu":
            self.add(node, "GELU", {"approximate": "none"}, [x])
        elif kind == "layernorm":
            eps, scale, bias = fused[2:]
            self.add(node, "LayerNorm", {"eps": eps}, [x], {"weight": scale, "bias": bias})
        else:
            self.add(node, "SiLU", {}, [x])

    # -- dense --------------------------------------------------------------------------------
    def op_Gemm(self, node):
        a = attrs(node)
        if a.get("transA", 0):
            raise Unmapped("transA is set")
        if self.rank(node.input[0]) != 2:
            raise Unmapped("its input is not 2-D")
        b = self.const(node.input[1], "weight B").astype(np.float32)
        weight = (b if a.get("transB", 0) else b.T) * np.float32(a.get("alpha", 1.0))
        out = weight.shape[0]
        w = {"weight": weight}
        if len(node.input) > 2 and node.input[2]:
            c = self.const(node.input[2], "bias C").astype(np.float32) * np.float32(a.get("beta", 1.0))
            try:
                w["bias"] = np.broadcast_to(c.reshape(-1) if c.ndim == 2 and c.shape[0] == 1 else c, (out,)).copy()
            except ValueError:
                raise Unmapped(f"its bias C of shape {c.shape} is not one value per output") from None
        self.add(node, "Linear", {"out_features": int(out), "bias": "bias" in w}, [node.input[0]], w)

    def op_MatMul(self, node):
        x, b_name = node.input[0], node.input[1]
        if b_name not in self.fold.consts or not self.runtime(x):
            raise Unmapped("its weight is not a constant matrix")
        b = self.fold.consts[b_name].astype(np.float32)
        if b.ndim != 2 or self.rank(x) not in (2, 3):
            raise Unmapped("it is not a (batch[, steps], features) × constant matrix product")
        w = {"weight": b.T.copy()}
        out = node.output[0]
        user = self.only_consumer(out)
        if user is not None and self.nodes[user].op_type == "Add":
            add = self.nodes[user]
            other = add.input[1] if add.input[0] == out else add.input[0]
            if other in self.fold.consts:
                c = self.fold.consts[other].astype(np.float32)
                if c.size == b.shape[1] and c.shape[-1] == b.shape[1]:
                    w["bias"] = c.reshape(-1).copy()
                    self.done.add(user)
                    out = add.output[0]
        self.add(node, "Linear", {"out_features": int(b.shape[1]), "bias": "bias" in w}, [x], w, out=out)

    # -- convolution and pooling --------------------------------------------------------------
    def _window(self, node, rank: int, kernel=None):
        """(kernel, stride, padding, dilation) as single ints, or Unmapped."""
        a = attrs(node)
        n = rank - 2
        k = list(a.get("kernel_shape") or kernel or [])
        strides = list(a.get("strides") or [1] * n)
        dil = list(a.get("dilations") or [1] * n)
        pads = list(a.get("pads") or [0] * (2 * n))
        auto = a.get("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if any(s != 1 for s in strides) or any((d * (kk - 1)) % 2 for d, kk in zip(dil, k)):
                raise Unmapped(f"auto_pad {auto} pads unevenly here")
            pads = [d * (kk - 1) // 2 for d, kk in zip(dil, k)] * 2
        elif auto == "VALID":
            pads = [0] * (2 * n)
        if pads[:n] != pads[n:]:
            raise Unmapped(f"its padding {pads} is not the same on both sides")
        return (_one(k, "kernel size"), _one(strides, "stride"), _one(pads[:n], "padding"),
                _one(dil, "dilation"))

    def op_Conv(self, node):
        x = node.input[0]
        w = self.const(node.input[1], "weight").astype(np.float32)
        rank = w.ndim
        if rank not in (3, 4) or self.rank(x) != rank:
            raise Unmapped(f"{rank - 2}-D convolutions have no Workbench node")
        k, s, p, d = self._window(node, rank, w.shape[2:])
        mode = "zeros"
        if node.output[0] in self.pad_conv:          # Pad(reflect|edge|wrap) → Conv
            x, p, mode = self.pad_conv[node.output[0]]
        group = int(attrs(node).get("group", 1))
        weights = {"weight": w}
        if len(node.input) > 2 and node.input[2]:
            weights["bias"] = self.const(node.input[2], "bias").astype(np.float32)
        params = {"out_channels": int(w.shape[0]), "kernel_size": k, "stride": s, "padding": p,
                  "dilation": d, "bias": "bias" in weights}
        if mode != "zeros":
            params["padding_mode"] = mode
        if group != 1:
            if "groups" not in catalog.find("Conv2d").defaults():
                raise Unmapped("grouped convolutions have no Workbench node yet")
            params["groups"] = group
        self.add(node, f"Conv{rank - 2}d", params, [x], weights)

    def _pool(self, node, kind: str):
        x = node.input[0]
        rank = self.rank(x)
        if rank not in (3, 4):
            raise Unmapped(f"{rank - 2}-D pooling has no Workbench node")
        a = attrs(node)
        if len(node.output) > 1 and node.output[1] in self.consumers:
            raise Unmapped("its indices output is used")
        if a.get("storage_order", 0):
            raise Unmapped("storage_order is set")
        k, s, p, d = self._window(node, rank)
        if d != 1:
            raise Unmapped("dilated pooling has no Workbench node")
        if a.get("ceil_mode", 0):
            out = self.dims(node.output[0])
            floor = tuple((n + 2 * p - k) // s + 1 for n in (self.dims(x) or ())[2:])
            if out is None or tuple(out[2:]) != floor:
                raise Unmapped("ceil_mode rounds its output size up")
        if kind == "Avg" and p and not a.get("count_include_pad", 0):
            raise Unmapped("it averages without the padding (count_include_pad=0) where "
                           "AvgPool counts it")
        if 2 * p > k:
            raise Unmapped(f"padding {p} is more than half the kernel {k}")
        self.add(node, f"{kind}Pool{rank - 2}d", {"kernel_size": k, "stride": s, "padding": p}, [x])

    def op_MaxPool(self, node):
        self._pool(node, "Max")

    def op_AveragePool(self, node):
        self._pool(node, "Avg")

    def op_GlobalAveragePool(self, node):
        rank = self.rank(node.input[0])
        if rank not in (3, 4):
            raise Unmapped(f"{rank - 2}-D pooling has no Workbench node")
        self.add(node, f"AdaptiveAvgPool{rank - 2}d", {"output_size": 1}, [node.input[0]])

    def _reduce(self, node, mode: str):
        x = node.input[0]
        rank = self.rank(x)
        axes = reduce_axes(self, node, rank)
        keep = bool(attrs(node).get("keepdims", 1))
        if mode == "mean" and rank in (3, 4) and axes == list(range(2, rank)):
            nid = self.add(node, f"AdaptiveAvgPool{rank - 2}d", {"output_size": 1}, [x])
            if not keep:
                self.add(node, "Flatten", {}, [(nid, "out")])
            return
        if rank == 3 and axes == [1] and not keep:
            self.add(node, "GlobalPool", {"mode": mode}, [x])
            return
        raise Unmapped(f"a reduction over axes {axes} has no Workbench node")

    def op_ReduceMean(self, node):
        self._reduce(node, "mean")

    def op_ReduceMax(self, node):
        self._reduce(node, "max")

    def op_LayerNormalization(self, node):
        x = node.input[0]
        rank = self.rank(x)
        a = attrs(node)
        if a.get("axis", -1) % rank != rank - 1 or any(o in self.consumers for o in node.output[1:] if o):
            raise Unmapped("it normalises over more than the last axis")
        scale = self.const(node.input[1], "scale").astype(np.float32).reshape(-1)
        bias = (self.const(node.input[2], "bias").astype(np.float32).reshape(-1)
                if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
        self.add(node, "LayerNorm", {"eps": float(a.get("epsilon", 1e-5))}, [x],
                 {"weight": scale, "bias": bias})

    def op_LRN(self, node):
        if catalog.find("LRN") is None:
            raise Unmapped("no Workbench node for LRN yet")
        a = attrs(node)
        self.add(node, "LRN", {"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)),
                               "beta": float(a.get("beta", 0.75)), "k": float(a.get("bias", 1.0))},
                 [node.input[0]])

    def op_BatchNormalization(self, node):
        a = attrs(node)
        if a.get("training_mode", 0) or any(o in self.consumers for o in node.output[1:] if o):
            raise Unmapped("it is in training mode")
        x = node.input[0]
        rank = self.rank(x)
        if rank not in (2, 3, 4):
            raise Unmapped(f"a {rank}-D batch norm has no Workbench node")
        scale, bias, mean, var = (self.const(n, "statistics").astype(np.float32) for n in node.input[1:5])
        momentum = 1.0 - float(a.get("momentum", 0.9))
        self.add(node, "BatchNorm2d" if rank == 4 else "BatchNorm1d",
                 {"eps": float(a.get("epsilon", 1e-5)), "momentum": min(max(momentum, 0.0), 1.0)},
                 [x], {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                       "num_batches_tracked": torch.tensor(0, dtype=torch.int64)})

    # -- reshaping ----------------------------------------------------------------------------
    def _reshape_to(self, node, out_sample, x=None):
        x = x or node.input[0]
        have = self.sample(x)
        if have is not None and tuple(out_sample) == have:
            self.where[node.output[0]] = self.src(x)
            return
        if not out_sample:
            raise Unmapped("its output has one value per sample (Reshape keeps at least one dim)")
        if len(out_sample) == 1 and have is not None and int(np.prod(have)) == out_sample[0]:
            self.add(node, "Flatten", {}, [x])
            return
        self.add(node, "Reshape", {"shape": ",".join(str(d) for d in out_sample)}, [x])

    def op_Flatten(self, node):
        axis = attrs(node).get("axis", 1) % max(self.rank(node.input[0]), 1)
        if axis == 1:
            self.add(node, "Flatten", {}, [node.input[0]])
            return
        out = self.sample(node.output[0])
        if axis == 0 or out is None:
            raise Unmapped(f"Flatten at axis {axis} mixes the batch")
        self._reshape_to(node, out)

    def op_Reshape(self, node):
        x, shape_name = node.input[0], node.input[1]
        if x in self.views:
            return self._lstm_view_reshape(node)
        target = self.fold.dims(shape_name)
        if target is None:
            raise Unmapped("its target shape is not known before the model runs")
        have = self.sample(x)
        if have is None:
            raise Unmapped("its input shape is not fully known")
        allowzero = attrs(node).get("allowzero", 0)
        first, rest = target[0], list(target[1:])
        if not allowzero:
            rest = [have[i] if v == 0 and i < len(have) else v for i, v in enumerate(rest)]
        total = int(np.prod(have)) if have else 1
        if first == "batch" or first == self.fixed_batch or (first == 0 and not allowzero):
            pass
        elif first == -1 and all(isinstance(v, int) and v > 0 for v in rest) and int(np.prod(rest or [1])) == total:
            pass
        else:
            raise Unmapped(f"its target {target} does not keep the batch dimension")
        if any(not isinstance(v, int) for v in rest):
            raise Unmapped(f"its target {target} mixes the batch into other dimensions")
        if rest.count(-1) == 1:
            known = int(np.prod([v for v in rest if v != -1] or [1]))
            if known == 0 or total % known:
                raise Unmapped(f"its target {target} does not fit {have}")
            rest[rest.index(-1)] = total // known
        if any(v <= 0 for v in rest) or int(np.prod(rest or [1])) != total:
            raise Unmapped(f"its target {target} does not fit {have}")
        self._reshape_to(node, rest)

    def _squeeze(self, node):
        """Squeeze / Unsqueeze of non-batch axes is a Reshape; the output shape is worked out
        here from the input's, as shape inference sometimes gives up on it."""
        x = node.input[0]
        if x in self.views:
            return self._lstm_view_squeeze(node)
        axes = attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "axes").reshape(-1).tolist()
        have = self.sample(x)
        if have is None:
            raise Unmapped("its input shape is not fully known")
        full = ["batch", *have]
        if node.op_type == "Unsqueeze":
            rank = len(full) + len(axes or ())
            axes = sorted(int(v) % rank for v in axes or ())
            if not axes or 0 in axes:
                raise Unmapped("it changes the batch dimension")
            for a in axes:
                full.insert(a, 1)
        else:
            rank = len(full)
            axes = sorted(int(v) % rank for v in axes) if axes is not None else \
                [i for i, d in enumerate(full) if d == 1]
            if 0 in axes or any(full[a] != 1 for a in axes):
                raise Unmapped("it changes the batch dimension")
            full = [d for i, d in enumerate(full) if i not in axes]
        self.shapes[node.output[0]] = ("batch", *full[1:])
        self._reshape_to(node, full[1:])

    op_Squeeze = op_Unsqueeze = _squeeze

    def op_Transpose(self, node):
        x = node.input[0]
        rank = self.rank(x)
        perm = list(attrs(node).get("perm", list(range(rank))[::-1]))
        if x in self.views:
            return self._lstm_view_transpose(node, perm)
        if perm == [1, 0, 2] and self.runtime(x) and self.consumers.get(node.output[0]) and all(
                self.nodes[k].op_type in _RECURRENT and self.nodes[k].input[0] == node.output[0]
                for k in self.consumers[node.output[0]]):
            self.time_major[node.output[0]] = self.src(x)
            return
        if perm[0] != 0:
            raise Unmapped(f"permutation {perm} moves the batch dimension")
        moved = [i for i, p in enumerate(perm) if p != i]
        if not moved:
            self.alias(node)
        elif len(moved) == 2:
            self.add(node, "Transpose", {"dim0": moved[0], "dim1": moved[1]}, [x])
        else:
            raise Unmapped(f"permutation {perm} swaps more than two dimensions")

    # -- merges -------------------------------------------------------------------------------
    def _merge(self, node, type: str):
        names = [n for n in node.input if n]
        if len(names) == 1:
            return self.alias(node)
        if not all(self.runtime(n) for n in names):
            raise Unmapped("one of its inputs is a constant (a broadcast, not a merge)")
        shapes = {(self.dims(n) or (None,))[1:] for n in names}   # the batch may be named apart
        if len(shapes) != 1 or any(d is None for d in next(iter(shapes))):
            raise Unmapped("its inputs have different shapes (a broadcast)")
        ports = len(catalog.find(type).inputs)
        first, rest = names[0], names[1:]
        src = self.src(first)
        while rest:
            chunk, rest = rest[:ports - 1], rest[ports - 1:]
            nid = self.add(node, type, {}, [src, *chunk])
            src = (nid, "out")

    def op_Add(self, node):
        self._merge(node, "Add")

    def op_Sum(self, node):
        self._merge(node, "Add")

    def op_Mul(self, node):
        self._merge(node, "Multiply")

    def op_Concat(self, node):
        names = [n for n in node.input if n]
        if not all(self.runtime(n) for n in names):
            raise Unmapped("one of its inputs is a constant")
        rank = self.rank(names[0])
        axis = attrs(node).get("axis", 1) % rank
        if axis == 0:
            raise Unmapped("it joins along the batch dimension")
        if len(names) > len(catalog.find("Concat").inputs):
            raise Unmapped(f"it joins {len(names)} tensors")
        self.add(node, "Concat", {"dim": axis - rank}, names)

    # -- embedding and gather -----------------------------------------------------------------
    def op_Gather(self, node):
        data, idx = node.input[0], node.input[1]
        axis = attrs(node).get("axis", 0)
        if data in self.views:
            view = self.views[data]
            i = self.fold.consts.get(idx)
            if (view[0] == "Yh" and view[2] == 1 and axis == 0 and i is not None and i.ndim == 0
                    and int(i) in (0, -1)):
                return self._real(node, view)      # h[-1]: the last step's hidden state
            raise Unmapped("it reads a recurrent layer's state")
        if data in self.fold.consts and self.runtime(idx) and axis == 0:
            w = self.fold.consts[data]
            if w.ndim == 2 and self.types.get(idx) == onnx.TensorProto.INT64:
                self.add(node, "Embedding", {"embedding_dim": int(w.shape[1]),
                                             "num_embeddings": int(w.shape[0])}, [idx],
                         {"weight": w.astype(np.float32)})
                return
        if data in self.lstm_all and idx in self.fold.consts and axis == 1:
            nid = self.lstm_all[data]
            lstm = self.graph.nodes[nid]
            steps = (self.dims(data) or (0, 0))[1]
            i = int(np.asarray(self.fold.consts[idx]).reshape(-1)[0]) if self.fold.consts[idx].size == 1 else None
            if (self.fold.consts[idx].ndim == 0 and i is not None and (i == -1 or (isinstance(steps, int) and i == steps - 1))
                    and not lstm.params["bidirectional"] and self.only_consumer(data) is not None):
                self.graph.set_param(nid, "return", "last")
                self._analysis = None
                self.where[node.output[0]] = (nid, "out")
                return
        raise Unmapped("a Gather that is not an embedding lookup")
