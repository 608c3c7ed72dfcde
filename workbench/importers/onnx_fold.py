"""Constant folding for the ONNX importer: which tensors of a graph are known before it runs.

Two kinds of known values:
- constants: initializers, Constant nodes and every node whose inputs are all constants
  (`Constant → Reshape`, `ConstantOfShape` weights, …), evaluated with onnx.reference;
- batch-dependent values: what `Shape(x)` computes when only the batch size is unknown, and
  what is computed from it (`Shape → Gather → Concat → Reshape` targets, the zero initial
  state `Expand(0, [1, batch, H])` an exported LSTM gets). They are evaluated twice, for two
  batch sizes; an entry that changes with the batch size is the batch. A Reshape target then
  reads as ("batch", 8, 4) and an all-zero initial state as "no initial state".
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

BATCHES = (5, 7)   # two batch sizes that no fixed dimension is likely to be a product of
_PRIMES = ((11, 13), (17, 19), (23, 29), (31, 37))
_NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
               "Multinomial", "Bernoulli", "Dropout"}
_LIMIT = 1 << 26    # values (not bytes): a folded tensor larger than this stays a node


def dims_of(value_info) -> tuple | None:
    """The dims of a typed value: ints, names for symbolic dims, None for unknown ones."""
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _evaluate(node, feeds: dict, opsets: dict) -> list:
    """Run one node with onnx.reference, at the model's opset (a bare NodeProto would be run
    at the newest version of its op: Unsqueeze-11's `axes` attribute then fails)."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), None)
           for k, v in feeds.items()]
    outs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output]
    graph = helper.make_graph([node], "fold", ins, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(k, v) for k, v in opsets.items()])
    ev = ReferenceEvaluator(model)
    return [np.asarray(v) for v in ev.run(None, dict(feeds))]


class Folded:
    """`consts[name]` (ndarray) and `batched[name]` ((value at BATCHES[0], at BATCHES[1]))."""

    def __init__(self, model: onnx.ModelProto, shapes: dict, batch_names: set):
        graph = model.graph
        self.opsets = {o.domain or "": o.version for o in model.opset_import}
        self.input_dims = {d for i in graph.input for d in (shapes.get(i.name) or ()) if isinstance(d, str)}
        # an initializer also listed as a graph input (IR 3 files, most older model zoos) is
        # still the weight: the input only lets a runtime override it
        self.consts: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.batched: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.named: dict[str, tuple[int, int]] = {}     # other symbolic sizes ("steps")
        self.shape_of: dict[str, str] = {}   # a Shape output -> the tensor whose shape it is
        self.batch_source: dict[str, str | None] = {}   # a batched value -> a tensor it read the batch of
        self.folded_nodes: set[int] = set()
        for index, node in enumerate(graph.node):
            if node.domain not in ("", "ai.onnx") or node.op_type in _NOT_FOLDED:
                continue
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                   for a in node.attribute):
                continue   # If / Loop / Scan bodies may read outer tensors
            try:
                done = self._fold(node, shapes, batch_names)
            except Exception:  # noqa: BLE001 - an op onnx.reference cannot run stays a node
                done = False
            if done:
                self.folded_nodes.add(index)

    def _fold(self, node, shapes, batch_names) -> bool:
        ins = [i for i in node.input if i]
        if node.op_type in ("Shape", "Size") and ins and ins[0] not in self.consts:
            return self._fold_shape(node, shapes.get(ins[0]), batch_names)
        if not all(i in self.consts or i in self.batched for i in ins):
            return False
        if not ins and node.op_type != "Constant":
            return False
        if all(i in self.consts for i in ins):
            outs = _evaluate(node, {i: self.consts[i] for i in ins}, self.opsets)
            if sum(o.size for o in outs) > _LIMIT:
                return False
            for name, value in zip(node.output, outs):
                self.consts[name] = value
            return True
        runs = []
        for k in range(2):
            feeds = {i: self.consts[i] if i in self.consts else self.batched[i][k] for i in ins}
            runs.append(_evaluate(node, feeds, self.opsets))
        for name, a, b in zip(node.output, *runs):
            if a.shape == b.shape and np.array_equal(a, b):
                self.consts[name] = a
            else:
                self.batched[name] = (a, b)
                self.batch_source[name] = next(
                    (self.batch_source[i] for i in ins if i in self.batch_source), None)
        return True

    def _size(self, name: str, run: int, batch_names) -> int:
        """The value symbolic dim `name` takes in evaluation `run`: the batch BATCHES[run];
        every other named size its own pair of primes, so dims() can name it back."""
        if name in batch_names:
            return BATCHES[run]
        if name not in self.named:
            self.named[name] = _PRIMES[len(self.named) % len(_PRIMES)]
        return self.named[name][run]

    def _batch_if_lost(self, name: str, index: int, batch_names) -> str:
        """Shape inference sometimes renames the batch ("unk__0" after a Resize): a leading
        size no graph input names is taken for the batch (Workbench tensors lead with it)."""
        if index == 0 and name not in batch_names and name not in self.input_dims and batch_names:
            return next(iter(batch_names))
        return name

    def _fold_shape(self, node, dims, batch_names) -> bool:
        if dims is None or any(d is None for d in dims):
            return False
        runs = []
        for run in range(2):
            full = [self._size(self._batch_if_lost(d, i, batch_names), run, batch_names)
                    if isinstance(d, str) else d for i, d in enumerate(dims)]
            if node.op_type == "Size":
                runs.append(np.array(int(np.prod(full)), dtype=np.int64))
                continue
            start = end = None
            for a in node.attribute:
                if a.name == "start":
                    start = a.i
                elif a.name == "end":
                    end = a.i
            runs.append(np.array(full[slice(start, end)], dtype=np.int64))
        a, b = runs
        if np.array_equal(a, b):
            self.consts[node.output[0]] = a
        else:
            self.batched[node.output[0]] = (a, b)
        if node.output[0] in self.batched:
            self.batch_source[node.output[0]] = node.input[0]
        if node.op_type == "Shape" and not any(x.name in ("start", "end") for x in node.attribute):
            self.shape_of[node.output[0]] = node.input[0]
        return True

    # -- reading folded values ---------------------------------------------------------------
    def known(self, name: str) -> bool:
        return name in self.consts or name in self.batched

    def dims(self, name: str) -> list | None:
        """A folded 1-D shape value as entries: ints, "batch" where the entry is the batch
        size, the name of another symbolic size where it is that size; None when it is neither constant nor a plain function of the batch size."""
        if name in self.consts:
            return [int(v) for v in np.asarray(self.consts[name]).reshape(-1)]
        if name not in self.batched:
            return None
        a, b = (np.asarray(v).reshape(-1) for v in self.batched[name])
        if a.shape != b.shape:
            return None
        out = []
        for x, y in zip(a.tolist(), b.tolist()):
            if x == y:
                out.append(int(x))
            elif (x, y) == BATCHES:
                out.append("batch")
            elif (x, y) in self.named.values():
                out.append(next(k for k, v in self.named.items() if v == (x, y)))
            else:
                return None
        return out

    def zeros(self, name: str) -> bool:
        """True for a value that is all zeros whatever the batch size (an initial state)."""
        if name in self.consts:
            return not np.any(self.consts[name])
        if name in self.batched:
            return not any(np.any(v) for v in self.batched[name])
        return False
