"""Walking a traced fx graph (from torch.fx or a torch.export program) into a Workbench
graph: catalog nodes for what maps, Opaque nodes for the rest, weights keyed by node id."""
from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.nn import functional as F

from workbench.core import catalog
from workbench.core.compile import identifier
from workbench.core.graph import Graph, GraphError
from workbench.importers.result import ImportError_
from workbench.importers.torch_map import NoNode, _same, map_module


# -- functions ----------------------------------------------------------------------------------

ACTIVATIONS = {  # function or Tensor method -> (node type, {param: (position, default)})
    F.relu: ("ReLU", {}), torch.relu: ("ReLU", {}), "relu": ("ReLU", {}),
    F.gelu: ("GELU", {"approximate": (None, "none")}), "gelu": ("GELU", {}),
    torch.tanh: ("Tanh", {}), F.tanh: ("Tanh", {}), "tanh": ("Tanh", {}),
    torch.sigmoid: ("Sigmoid", {}), F.sigmoid: ("Sigmoid", {}), "sigmoid": ("Sigmoid", {}),
    F.leaky_relu: ("LeakyReLU", {"negative_slope": (1, 0.01)}),
    F.elu: ("ELU", {"alpha": (1, 1.0)}),
    F.silu: ("SiLU", {}),
    F.softmax: ("Softmax", {"dim": (1, None)}), torch.softmax: ("Softmax", {"dim": (1, None)}),
    "softmax": ("Softmax", {"dim": (0, None)}),
    F.log_softmax: ("LogSoftmax", {"dim": (1, None)}), torch.log_softmax: ("LogSoftmax", {"dim": (1, None)}),
    "log_softmax": ("LogSoftmax", {"dim": (0, None)}),
}
ADD = {operator.add, torch.add, "add", operator.iadd}
MUL = {operator.mul, torch.mul, "mul", operator.imul}
RESHAPES = {torch.flatten, "flatten", torch.reshape, "reshape", "view", torch.squeeze, "squeeze",
            torch.unsqueeze, "unsqueeze"}
MEANS = {torch.mean, "mean"}
PASS = {"contiguous", F.dropout, "clone"}   # identity in eval mode (F.dropout maps to Dropout)
POOLS = ("max_pool1d", "max_pool2d", "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d",
         "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d")
_MAX = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
F_POOLS = {F.max_pool1d: ("max_pool1d", _MAX), F.max_pool2d: ("max_pool2d", _MAX),
           F.avg_pool1d: ("avg_pool1d", _AVG), F.avg_pool2d: ("avg_pool2d", _AVG),
           F.adaptive_avg_pool1d: ("adaptive_avg_pool1d", ("input", "output_size")),
           F.adaptive_avg_pool2d: ("adaptive_avg_pool2d", ("input", "output_size"))}
POOL_DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                 "count_include_pad": True, "divisor_override": None, "return_indices": False}
_NAMESPACES = (("torch.nn.functional", F), ("torch", torch), ("operator", operator))


def target_name(node: fx.Node) -> str:
    """The dotted name of what `node` calls: "torch.einsum", "Tensor.permute"."""
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    fn = node.target
    name = getattr(fn, "__name__", "")
    for prefix, space in _NAMESPACES:
        if name and getattr(space, name, None) is fn:
            return f"{prefix}.{name}"
    if isinstance(fn, torch._ops.OpOverload):
        return f"torch.ops.{fn._schema.name.replace('::', '.')}.{fn._overloadname}"
    return f"{getattr(fn, '__module__', None) or '?'}.{name or fn!r}"


def _key(node: fx.Node):
    return node.target if node.op == "call_method" else node.target


# -- building the graph --------------------------------------------------------------------------

@dataclass(frozen=True)
class Port:
    node: str                  # a Workbench node id whose output "out" is this value


@dataclass(frozen=True)
class Tensor:
    name: str                  # a module parameter / buffer / constant (an fx get_attr)


@dataclass(frozen=True)
class Tuple:
    node: str                  # a recurrent/attention node's tuple result, before indexing
    level: int = 0             # LSTM: 0 = (out, (h, c)), 1 = (h, c), 2 = h
    flat: bool = False         # aten.lstm's (out, h, c), aten.gru's (out, h)


class Builder:
    """Walks an fx graph (the values recorded on a sample batch) and adds Workbench nodes."""

    def __init__(self, root: nn.Module, gm: fx.GraphModule, values: dict, where: str):
        self.root, self.gm, self.values, self.where = root, gm, values, where
        self.graph = Graph()
        self.tensors: dict[str, torch.Tensor] = {}
        self.report: list[str] = []
        self.env: dict[fx.Node, object] = {}
        self.rnn_use: dict[str, set[str]] = {}
        self.seq_of: dict[fx.Node, str] = {}   # an rnn's "all steps" value -> its node id
        self.merges: dict[fx.Node, str] = {}   # an fx add/mul -> the Add/Multiply node it is in

    # - helpers -
    def title(self, node: fx.Node, base: str | None = None, kind: str = "node") -> str:
        if node.op == "call_module":
            text = str(node.target)
        else:
            stack = node.meta.get("nn_module_stack") or {}
            path, cls = next(reversed(stack.values())) if stack else ("", "")
            cls = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
            if path and cls.startswith("torch.nn.") and base is None:
                text = path                     # the op of a torch.nn layer: the layer's path
            else:
                text = f"{path}.{base or node.name}" if path else (base or node.name)
        if text[:1].isdigit():                  # a bare Sequential's "0": linear_0
            text = f"{kind}_{text}"
        return self.graph.unique_title(identifier(text.replace(".", "_")))

    def add(self, type_: str, params: dict, node: fx.Node, inputs: list, title: str | None = None) -> str:
        spec = catalog.get(type_)
        try:
            wb = self.graph.add_node(type_, title or self.title(node, kind=spec.default_title),
                                     params)
        except GraphError as exc:
            raise ImportError_(f"{self.where}: '{node.name}': {exc}") from None
        ports = [p.name for p in spec.inputs]
        for port, value in zip(ports, inputs):
            self.graph.connect(self.port_of(value, node), "out", wb.id, port)
        return wb.id

    def port_of(self, value, user: fx.Node) -> str:
        if isinstance(value, Port):
            return value.node
        raise ImportError_(f"{self.where}: '{user.name}' uses a value Workbench cannot keep "
                           f"({self.describe(value)})")

    def describe(self, value) -> str:
        if isinstance(value, Tuple):
            return f"the state of {self.graph.nodes[value.node].label()}"
        if isinstance(value, Tensor):
            return f"the tensor '{value.name}'"
        if isinstance(value, tuple) and value[:1] == ("state",):
            return (f"'{value[1].name}', a part of a layer's result that Workbench's node does "
                    "not give (attention weights, a recurrent layer's state other than h[-1])")
        return type(value).__name__

    def arg_value(self, a):
        return self.env[a] if isinstance(a, fx.Node) else a

    def tensor_value(self, node: fx.Node):
        v = self.values.get(node)
        return v if isinstance(v, torch.Tensor) else None

    def is_graph_tensor(self, a) -> bool:
        return isinstance(a, fx.Node) and isinstance(self.env.get(a), Port)

    def use(self, a: fx.Node) -> Port:
        """The Port of `a` for a consumer; an RNN's every-step output used here needs 'all'."""
        value = self.env[a]
        if a in self.seq_of:
            self.rnn_use[self.seq_of[a]].add("all")
        return value

    # - the walk -
    def build(self) -> None:
        for node in self.gm.graph.nodes:
            handler = getattr(self, f"on_{node.op}")
            self.env[node] = handler(node)
        for nid, uses in self.rnn_use.items():
            wb = self.graph.nodes[nid]
            if uses == {"all", "last"}:
                raise ImportError_(f"{self.where}: {wb.label()}: both its every-step output and "
                                   "its last step are used; Workbench's node gives one of them")
            if uses == {"last"}:
                self.graph.set_param(nid, "return", "last")

    def on_placeholder(self, node):
        value = self.tensor_value(node)
        dtype = "int64" if value.dtype in (torch.int64, torch.int32) else "float32"
        name = "x" if node.target in ("input", "args") else identifier(node.target)
        params = {"name": name, "shape": ",".join(map(str, value.shape[1:])),
                  "dtype": dtype}
        if dtype == "int64":
            vocab = [m.num_embeddings for m in self.root.modules() if isinstance(m, nn.Embedding)]
            if vocab:
                params["cardinality"] = min(vocab)
        return Port(self.graph.add_node("Input", self.graph.unique_title(name), params).id)

    def on_get_attr(self, node):
        return Tensor(str(node.target))

    def on_output(self, node):
        leaves, _ = torch.utils._pytree.tree_flatten_with_path(node.args[0])
        for i, (where, leaf) in enumerate(leaves):
            if not isinstance(leaf, fx.Node):
                raise ImportError_(f"{self.where}: output {i} is not a tensor the model computes")
            keys = [str(getattr(k, "key", getattr(k, "name", ""))) for k in where]
            named = "_".join(k for k in keys if k and not k.isdigit())
            name = "out" if len(leaves) == 1 else identifier(named) if named else f"out{i}"
            taken = {n.params["name"] for n in self.graph.nodes.values() if n.type in ("Input", "Output")}
            if name in taken:
                name = f"out{i}" if f"out{i}" not in taken else f"{name}_{i}"
            self.add("Output", {"name": name}, node, [self.use(leaf)],
                     title=self.graph.unique_title(name))
        return None

    def on_call_module(self, node):
        if node.target == "_guards_fn":         # torch.export's input checks: nothing to keep
            return None
        module = self.gm.get_submodule(str(node.target))
        try:
            mapped = map_module(module)
        except NoNode as exc:
            return self.opaque_module(node, module, str(exc))
        ins = [a for a in node.args if isinstance(a, fx.Node)]
        if mapped.type == "":                                  # Identity: dropped
            return self.use(node.args[0])
        if isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
            if len(node.args) != 1 or node.kwargs:
                return self.opaque_module(node, module, "an initial state is passed in")
        elif isinstance(module, nn.MultiheadAttention):
            q = node.args[0] if node.args else node.kwargs.get("query")
            same = len(node.args) == 3 and node.args[0] is node.args[1] is node.args[2]
            extra = {k: v for k, v in node.kwargs.items() if v is not None and k != "need_weights"}
            if not same or extra:
                return self.opaque_module(node, module, "it is not self-attention (query = key = "
                                          "value, no masks)")
            ins = [q]
        elif isinstance(module, nn.TransformerEncoderLayer):
            if len(node.args) != 1 or any(v is not None for v in node.kwargs.values()):
                return self.opaque_module(node, module, "masks are passed in")
        elif len(node.args) != 1 or node.kwargs:
            return self.opaque_module(node, module, "it takes more than one input")
        nid = self.add(mapped.type, mapped.params, node, [self.use(a) for a in ins])
        for key, value in module.state_dict().items():
            self.tensors[f"{nid}.{mapped.prefix}{key}"] = value.detach().clone()
        if isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
            self.rnn_use[nid] = set()
            return Tuple(nid)
        if isinstance(module, nn.MultiheadAttention):
            return Tuple(nid)
        return Port(nid)

    def on_call_method(self, node):
        return self.on_call_function(node)

    def on_call_function(self, node):
        key = _key(node)
        args = node.args
        first = args[0] if args else None
        if key is operator.getitem:
            return self.getitem(node)
        if isinstance(key, torch._ops.OpOverload):
            return self.aten(node)
        value = self.tensor_value(node)
        if value is None:                                      # x.size(0), x.shape: a number
            return ("sym", node)
        if key in PASS and self.is_graph_tensor(first):
            if key is F.dropout:
                p = args[1] if len(args) > 1 else node.kwargs.get("p", 0.5)
                return Port(self.add("Dropout", {"p": p}, node, [self.use(first)]))
            return self.use(first)
        if key in ACTIVATIONS and self.is_graph_tensor(first):
            type_, spec = ACTIVATIONS[key]
            params = {}
            for pname, (pos, default) in spec.items():
                pos = pos if node.op == "call_function" or pos is None else pos + 1
                given = args[pos] if pos is not None and len(args) > pos else node.kwargs.get(pname, default)
                params[pname] = given
            if params.get("dim", 0) is not None and self._params_ok(type_, params):
                return Port(self.add(type_, params, node, [self.use(first)]))
        if key in ADD | MUL and len(args) == 2 and not node.kwargs \
                and all(self.is_graph_tensor(a) for a in args):
            a, b = (self.tensor_value(x) for x in args)
            if a.shape == b.shape and a.dtype == b.dtype == torch.float32:
                return self.merge("Add" if key in ADD else "Multiply", node, list(args))
        if key in (torch.transpose, "transpose") and self.is_graph_tensor(first) and not node.kwargs \
                and len(args) == 3 and all(isinstance(d, int) for d in args[1:]):
            rank = self.tensor_value(first).dim()
            dims = sorted(d % rank for d in args[1:])
            if dims[0] >= 1 and self._params_ok("Transpose", {"dim0": dims[0], "dim1": dims[1]}):
                return Port(self.add("Transpose", {"dim0": dims[0], "dim1": dims[1]}, node,
                                     [self.use(first)]))
        if key in F_POOLS and self.is_graph_tensor(first):
            name, names = F_POOLS[key]
            given = dict(zip(names, args)) | dict(node.kwargs)
            norm = [given.get(n, POOL_DEFAULTS.get(n)) for n in names]
            if not given.get("return_indices") and set(given) <= set(names):
                try:
                    return self.pool(node, name, norm)
                except NoNode:
                    pass
        if key in (F.conv1d, F.conv2d) and self.is_graph_tensor(first):
            names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
            given = dict(zip(names, args)) | dict(node.kwargs)
            defaults = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}
            if set(given) <= set(names):
                try:
                    return self.conv(node, "conv2d" if key is F.conv2d else "conv1d",
                                     [given.get(n, defaults.get(n)) for n in names])
                except NoNode:
                    pass
        if key is F.linear and self.is_graph_tensor(first) and len(args) >= 2 and not node.kwargs:
            w, b = self.weight(args[1]), args[2] if len(args) > 2 else None
            if w is not None and w.dim() == 2 and (b is None or self.weight(b) is not None):
                tensors = {"weight": w} | ({"bias": self.weight(b)} if b is not None else {})
                return self.layer("Linear", {"out_features": w.shape[0], "bias": b is not None},
                                  node, first, tensors)
        if key in MEANS and self.is_graph_tensor(first) and self.tensor_value(first).dim() == 3:
            dim = args[1] if len(args) > 1 else node.kwargs.get("dim")
            keep = args[2] if len(args) > 2 else node.kwargs.get("keepdim", False)
            if dim in (1, -2, [1], (1,), [-2], (-2,)) and not keep and "dtype" not in node.kwargs:
                return Port(self.add("GlobalPool", {"mode": "mean"}, node, [self.use(first)]))
        if key is torch.cat:
            mapped = self.concat(node)
            if mapped is not None:
                return mapped
        if key in RESHAPES and self.is_graph_tensor(first):
            mapped = self.reshape(node)
            if mapped is not None:
                return mapped
        return self.opaque(node, f"no Workbench node for {target_name(node)}")

    def merge(self, type_: str, node: fx.Node, args: list) -> Port:
        """`a + b + c` is one Add of three inputs (up to the node's ports): an inner sum that
        feeds only this one takes the new term on its next free port."""
        inner = args[0]
        nid = self.merges.get(inner)
        if nid is not None and self.graph.nodes[nid].type == type_ and len(inner.users) == 1:
            ports = [p.name for p in catalog.get(type_).inputs]
            free = [p for p in ports if self.graph.source_of(nid, p) is None]
            if free:
                self.graph.connect(self.port_of(self.use(args[1]), node), "out", nid, free[0])
                self.merges[node] = nid
                return Port(nid)
        nid = self.add(type_, {}, node, [self.use(x) for x in args])
        self.merges[node] = nid
        return Port(nid)

    def _params_ok(self, type_, params) -> bool:
        spec = catalog.get(type_)
        try:
            for k, v in params.items():
                spec.param(k).check(v)
        except (KeyError, ValueError):
            return False
        return True

    def final_state(self, nid: str, index, node: fx.Node):
        """h[-1] of a recurrent node's final state is its last step; of a bidirectional one,
        h[-2] and h[-1] are the two directions (joined by a cat, below)."""
        wb = self.graph.nodes[nid]
        n = wb.params["num_layers"] * (2 if wb.params["bidirectional"] else 1)
        if not isinstance(index, int) or not -n <= index < n:
            return ("state", node)
        index %= n
        if not wb.params["bidirectional"] and index == n - 1:
            self.rnn_use[nid].add("last")
            return Port(nid)
        if wb.params["bidirectional"] and index >= n - 2:
            return Direction(nid, "forward" if index == n - 2 else "backward")
        return ("state", node)

    def concat(self, node):
        items = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        pair = [self.env.get(a) if isinstance(a, fx.Node) else None for a in items] \
            if isinstance(items, (list, tuple)) and len(items) == 2 else []
        if pair and isinstance(pair[0], Direction) and dim in (1, -1) and \
                pair == [Direction(pair[0].node, "forward"), Direction(pair[0].node, "backward")]:
            nid = pair[0].node                     # cat(h[-2], h[-1]): what 'last' gives
            self.rnn_use[nid].add("last")
            return Port(nid)
        ports = [p.name for p in catalog.get("Concat").inputs]
        if not isinstance(items, (list, tuple)) or not 2 <= len(items) <= len(ports) \
                or not all(self.is_graph_tensor(a) for a in items):
            return None
        rank = self.tensor_value(items[0]).dim()
        if dim % rank == 0 or not self._params_ok("Concat", {"dim": dim}):
            return None
        return Port(self.add("Concat", {"dim": dim}, node, [self.use(a) for a in items]))

    def reshape(self, node):
        src = self.tensor_value(node.args[0])
        out = self.tensor_value(node)
        if out.dim() == 0 or out.shape[0] != src.shape[0]:
            return None                                        # mixes the batch: opaque
        if tuple(out.shape) == tuple(src.shape):
            return self.use(node.args[0])
        if out.dim() == 2:
            return Port(self.add("Flatten", {}, node, [self.use(node.args[0])]))
        return Port(self.add("Reshape", {"shape": ",".join(map(str, out.shape[1:]))}, node,
                             [self.use(node.args[0])]))

    def getitem(self, node):
        base, index = node.args
        value = self.env[base]
        if isinstance(value, tuple) and value[:1] == ("sym",):
            return ("sym", node)                               # x.shape[0]: a number
        if isinstance(value, AtenTuple):
            if index == 0:
                return Port(value.node)
            return ("state", node)
        if isinstance(value, Tuple):
            wb = self.graph.nodes[value.node]
            lstm = wb.type == "LSTM"
            if wb.type == "MultiheadAttention":
                if index == 0:
                    return Port(value.node)
                return ("state", node)                         # refused when used
            if value.flat:
                value = Tuple(value.node, 0 if index == 0 else 1)
                index = 0 if index in (0, 1) else -99
            if value.level == 0 and index == 0:
                self.seq_of[node] = value.node
                return Port(value.node)
            if (value.level == 0 and index == 1 and not lstm) or (value.level == 1 and index == 0):
                return Tuple(value.node, 2)
            if value.level == 0 and index == 1:
                return Tuple(value.node, 1)
            if value.level == 2:
                return self.final_state(value.node, index, node)
            return ("state", node)                            # refused when used
        if base in self.seq_of and not self.graph.nodes[self.seq_of[base]].params["bidirectional"] \
                and _is_last_step(index) and len(base.users) == 1:
            self.rnn_use[self.seq_of[base]].add("last")
            return Port(self.seq_of[base])
        if isinstance(value, Port):
            return self.opaque(node, "no Workbench node for indexing", target="operator.getitem")
        return self.refuse(node, f"indexing {self.describe(value)} with {index!r}")

    def refuse(self, node, why):
        raise ImportError_(f"{self.where}: cannot import '{node.name}': {why}")

    # - opaque -
    def opaque_module(self, node, module, why):
        raise ImportError_(f"{self.where}: cannot import {type(module).__name__} "
                           f"'{node.target}': {why}")

    def opaque(self, node, reason, target=None, args=None, kwargs=None):
        target = target or target_name(node)
        args = list(node.args if args is None else args)
        kwargs = dict(node.kwargs if kwargs is None else kwargs)
        from workbench.core import opaque
        value = self.tensor_value(node)
        if value is None:
            return self.refuse(node, f"{target} does not give one tensor")
        inputs: list[fx.Node] = []
        tensors: dict[str, torch.Tensor] = {}
        trainable: set[str] = set()

        def template(a):
            if isinstance(a, fx.Node):
                v = self.env.get(a)
                if isinstance(v, Port):
                    if a not in inputs:
                        inputs.append(a)
                    return {"input": inputs.index(a)}
                if isinstance(v, Tensor):
                    name = opaque.tensor_name(v.name)
                    attr = _attr(self.gm, v.name)
                    tensors[name] = attr.detach().clone()
                    if isinstance(attr, nn.Parameter) and attr.requires_grad:
                        trainable.add(name)
                    return {"tensor": name}
                if isinstance(v, tuple) and v and v[0] == "sym":
                    return _plain(self.values[a], node, self)
                return self.refuse(node, f"it uses {self.describe(v)}")
            if isinstance(a, (list, tuple)):
                return [template(x) for x in a]
            if isinstance(a, dict):
                return {k: template(v) for k, v in a.items()}
            return _plain(a, node, self)

        t_args = [template(a) for a in args]
        t_kwargs = {k: template(v) for k, v in kwargs.items()}
        if not inputs:
            return self.refuse(node, f"{target} computes a constant (it uses no model input)")
        if len(inputs) > 4:
            return self.refuse(node, f"{target} takes {len(inputs)} tensors (an Opaque node takes 4)")
        params = opaque.torch_params(target, t_args, t_kwargs, tensors, trainable,
                                     op=target, reason=reason)
        params["out_shape"] = ",".join(map(str, value.shape[1:]))
        params["out_dtype"] = "int64" if value.dtype == torch.int64 else "float32"
        nid = self.add("Opaque", params, node, [self.use(a) for a in inputs])
        for name, t in tensors.items():
            self.tensors[f"{nid}.{name}"] = t
        return Port(nid)


    # - ATen programs (.pt2) -
    def weight(self, a):
        """The tensor an fx get_attr argument names, or None (absent, or computed)."""
        if isinstance(a, fx.Node) and isinstance(self.env.get(a), Tensor):
            return _attr(self.gm, self.env[a].name).detach().clone()
        return None

    def layer(self, type_, params, node, x, tensors: dict, tuple_result=False):
        if not self._params_ok(type_, params) or any(v is None for v in tensors.values()):
            return self.opaque(node, f"no Workbench node for {target_name(node)} as called")
        nid = self.add(type_, params, node, [self.use(x)])
        for k, v in tensors.items():
            self.tensors[f"{nid}.{k}"] = v
        return AtenTuple(nid) if tuple_result else Port(nid)

    def aten(self, node):
        op = node.target
        name = op.overloadpacket.__name__
        args = list(node.args)
        kw = node.kwargs
        x = args[0] if args else None
        value = self.tensor_value(node)
        simple = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "silu": "SiLU"}
        if not isinstance(self.values.get(node), (torch.Tensor, tuple, list)):
            return ("sym", node)                               # aten.sym_size: a number
        try:
            if name in ("_guards_fn", "_assert_scalar", "sym_constrain_range_for_size"):
                return None
            if name in ("zeros", "zeros_like") and not self.is_graph_tensor(x):
                return ("zeros", node)                         # an initial state, for aten.lstm
            if name in ("lstm", "gru", "rnn_tanh") and op._overloadname == "input":
                return self.aten_recurrent(node, name)
            if name == "slice" and x in self.seq_of and _arg(args, 1, 0) == 0 and \
                    _arg(args, 2, 0) in (0, None) and _arg(args, 4, 1) == 1 and \
                    (_arg(args, 3, None) is None or _arg(args, 3, 0) >= 2 ** 62) and len(x.users) == 1:
                self.seq_of[node] = self.seq_of[x]             # out[:, ...]'s no-op first slice
                return self.env[x]
            state = self.env.get(x) if isinstance(x, fx.Node) else None
            if name == "select" and isinstance(state, Tuple) and state.level == 2:
                if args[1] == 0:                                 # h[-1] of the final state
                    picked = self.final_state(state.node, args[2], node)
                    if not (isinstance(picked, tuple) and picked[:1] == ("state",)):
                        return picked
            if name == "select" and x in self.seq_of and tuple(args[1:3]) == (1, -1) \
                    and len(x.users) == 1 and not self.graph.nodes[self.seq_of[x]].params["bidirectional"]:
                self.rnn_use[self.seq_of[x]].add("last")       # out[:, -1]
                return Port(self.seq_of[x])
            if name == "embedding":
                w = self.weight(args[0])
                if w is None or (len(args) > 2 and args[2] not in (-1, 0)):
                    raise NoNode("")
                return self.layer("Embedding", {"embedding_dim": w.shape[1], "num_embeddings": w.shape[0]},
                                  node, args[1], {"weight": w})
            if not self.is_graph_tensor(x):
                raise NoNode("")
            if name in simple:
                return Port(self.add(simple[name], {}, node, [self.use(x)]))
            if name == "gelu":
                return self.layer("GELU", {"approximate": kw.get("approximate", "none")}, node, x, {})
            if name == "leaky_relu":
                return self.layer("LeakyReLU", {"negative_slope": _arg(args, 1, 0.01)}, node, x, {})
            if name == "elu" and len(args) <= 2:
                return self.layer("ELU", {"alpha": _arg(args, 1, 1.0)}, node, x, {})
            if name in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
                type_ = "LogSoftmax" if "log" in name else "Softmax"
                return self.layer(type_, {"dim": args[1]}, node, x, {})
            if name == "dropout":
                return self.layer("Dropout", {"p": _arg(args, 1, 0.5)}, node, x, {})
            if name in ("clone", "contiguous", "alias", "detach") and not kw.get("memory_format"):
                return self.use(x)
            if name == "linear":
                w, b = self.weight(args[1]), _arg(args, 2, None)
                tensors = {"weight": w} | ({"bias": self.weight(b)} if b is not None else {})
                return self.layer("Linear", {"out_features": w.shape[0] if w is not None else 1,
                                             "bias": b is not None}, node, x, tensors)
            if name in ("conv1d", "conv2d", "convolution"):
                return self.conv(node, name, args)
            if name in ("batch_norm", "_native_batch_norm_legit_no_training"):
                if name == "batch_norm":
                    w, b, mean, var, training, momentum, eps = args[1:8]
                    if training:
                        raise NoNode("")
                else:
                    w, b, mean, var, momentum, eps = args[1:7]
                rank = self.tensor_value(x).dim()
                kind = "BatchNorm2d" if rank == 4 else "BatchNorm1d"
                stats = self.env.get(mean)
                tracked = None
                if isinstance(stats, Tensor) and stats.name.endswith("running_mean"):
                    try:
                        tracked = _attr(self.gm, stats.name[:-len("running_mean")] + "num_batches_tracked")
                    except AttributeError:
                        tracked = None
                tensors = {"weight": self.weight(w), "bias": self.weight(b),
                           "running_mean": self.weight(mean), "running_var": self.weight(var),
                           "num_batches_tracked": (tracked.detach().clone() if tracked is not None
                                                   else torch.tensor(0))}
                return self.layer(kind, {"momentum": momentum, "eps": eps}, node, x, tensors,
                                  tuple_result=name != "batch_norm")
            if name == "layer_norm":
                shape, w, b, eps = args[1], _arg(args, 2, None), _arg(args, 3, None), _arg(args, 4, 1e-5)
                if len(shape) != 1 or w is None or b is None:
                    raise NoNode("")
                return self.layer("LayerNorm", {"eps": eps}, node, x,
                                  {"weight": self.weight(w), "bias": self.weight(b)})
            if name in POOLS:
                return self.pool(node, name, args)
            if name in ("add", "mul") and len(args) == 2 and not kw and self.is_graph_tensor(args[1]):
                a, b = self.tensor_value(args[0]), self.tensor_value(args[1])
                if a.shape == b.shape and a.dtype == b.dtype == torch.float32:
                    return self.merge("Add" if name == "add" else "Multiply", node, args[:2])
            if name in ("flatten", "view", "reshape", "_unsafe_view", "squeeze", "unsqueeze") \
                    and value is not None:
                mapped = self.reshape(node)
                if mapped is not None:
                    return mapped
        except NoNode:
            pass
        if name == "cat":
            mapped = self.concat(node)
            if mapped is not None:
                return mapped
        return self.opaque(node, f"no Workbench node for aten.{name}")


    def conv(self, node, name: str, args: list):
        """Convolutions in ATen's argument order (torch.nn.functional's is the same)."""
        x = args[0]
        w, b = self.weight(args[1]), _arg(args, 2, None)
        if w is None or w.dim() not in (3, 4):
            raise NoNode("")
        if name == "convolution":
            stride, padding, dilation, transposed, _, groups = args[3:9]
            if transposed:
                raise NoNode("")
        else:
            stride, padding, dilation, groups = (_arg(args, 3, 1), _arg(args, 4, 0),
                                                 _arg(args, 5, 1), _arg(args, 6, 1))
        kind = f"Conv{w.dim() - 2}d"
        if isinstance(padding, str):
            raise NoNode("")
        params = {"out_channels": w.shape[0], "kernel_size": _same(list(w.shape[2:]), "kernel"),
                  "stride": _same(stride, "stride"), "padding": _same(padding, "padding"),
                  "dilation": _same(dilation, "dilation"), "bias": b is not None}
        if groups != 1:
            params["groups"] = groups
        tensors = {"weight": w} | ({"bias": self.weight(b)} if b is not None else {})
        return self.layer(kind, params, node, x, tensors)

    def pool(self, node, name: str, args: list):
        """Pooling calls, in ATen's argument order (torch.nn.functional's is the same)."""
        x = args[0]
        if name.startswith("adaptive") or name == "_adaptive_avg_pool2d":
            dims = 1 if "1d" in name else 2
            return self.layer(f"AdaptiveAvgPool{dims}d", {"output_size": _same(args[1], "size")},
                              node, x, {})
        dims = 1 if "1d" in name else 2
        k = _same(args[1], "kernel_size")
        stride = _arg(args, 2, [])
        stride = _same(stride, "stride") if stride not in ([], (), None) else k
        padding = _same(_arg(args, 3, 0), "padding")
        if name.startswith("max"):
            if _same(_arg(args, 4, 1), "dilation") != 1 or _arg(args, 5, False):
                raise NoNode("dilation or ceil_mode")
        elif _arg(args, 4, False) or not _arg(args, 5, True) or _arg(args, 6, None) is not None:
            raise NoNode("ceil_mode, count_include_pad=False or divisor_override")
        kind = f"{'Max' if name.startswith('max') else 'Avg'}Pool{dims}d"
        return self.layer(kind, {"kernel_size": k, "stride": stride, "padding": padding},
                          node, x, {}, tuple_result=name.endswith("indices"))

    def aten_recurrent(self, node, name):
        """aten.lstm/gru/rnn_tanh from zero initial states onto the recurrent node."""
        x, hx, weights, has_biases, layers, dropout, train, bidirectional, batch_first = node.args[:9]
        states = hx if isinstance(hx, (list, tuple)) else [hx]
        kind = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN"}[name]
        if not (self.is_graph_tensor(x) and batch_first and has_biases and not train
                and all(isinstance(self.env.get(h), tuple) and self.env[h][0] == "zeros" for h in states)
                and all(isinstance(self.env.get(w), Tensor) for w in weights)):
            return self.refuse(node, f"aten.{name} with an initial state, batch_first=False, "
                                     "no biases or computed weights has no Workbench node")
        tensors = {"rnn." + self.env[w].name.rsplit(".", 1)[-1]: self.weight(w) for w in weights}
        hidden = self.weight(weights[1]).shape[1]
        params = {"hidden_size": hidden, "num_layers": layers, "bidirectional": bidirectional,
                  "dropout": dropout, "return": "all"}
        nid = self.add(kind, params, node, [self.use(x)])
        for k, v in tensors.items():
            self.tensors[f"{nid}.{k}"] = v
        self.rnn_use[nid] = set()
        return Tuple(nid, flat=True)


@dataclass(frozen=True)
class Direction:
    node: str                  # one direction's final state of a bidirectional recurrent node
    which: str


@dataclass(frozen=True)
class AtenTuple:
    node: str                  # an ATen op's tuple result whose first item is the node's output


def _arg(args, i, default):
    return args[i] if len(args) > i else default


def _attr(gm: nn.Module, dotted: str):
    obj = gm
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _plain(a, node, builder):
    """A call argument as JSON-able data for an Opaque node's template."""
    if a is None or isinstance(a, (bool, int, float, str)):
        return a
    if isinstance(a, torch.dtype):
        return {"dtype": str(a).removeprefix("torch.")}
    if isinstance(a, torch.Size):
        return list(a)
    if isinstance(a, slice):
        return {"slice": [_plain(a.start, node, builder), _plain(a.stop, node, builder),
                          _plain(a.step, node, builder)]}
    if isinstance(a, (list, tuple)):
        return [_plain(x, node, builder) for x in a]
    return builder.refuse(node, f"an argument of type {type(a).__name__} cannot be kept in a file")


def _is_last_step(index) -> bool:
    return isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None) and index[1] == -1
