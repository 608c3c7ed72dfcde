"""Shape inference and validation: every port's tensor type, every node's parameter count,
and every problem attached to the node that causes it, in words a user understands.

Runs on every edit in the app, so it builds modules on the meta device (no memory) and
remembers parameter counts per (type, params, input types).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from workbench.core import memory
from workbench.core.graph import CycleError, Graph, Node
from workbench.core.spec import (INPUT, LOSS_ROLE, MODEL, OPTIMIZER_ROLE, OUTPUT, SCHEDULE, TARGET,
                                 TENSOR, Call, ShapeError)
from workbench.core.training_settings import problems as training_problems
from workbench.core.types import TensorType

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    node_id: str | None  # None: a problem of the whole graph
    message: str
    severity: str = ERROR
    training: bool = False  # about the loss/optimizer part: the model itself still compiles

    def __str__(self) -> str:
        return self.message


@dataclass
class Analysis:
    inputs: dict[str, dict[str, TensorType]] = field(default_factory=dict)   # node -> port -> type
    outputs: dict[str, dict[str, TensorType]] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)                     # node -> trainable count
    problems: list[Problem] = field(default_factory=list)
    order: list[str] = field(default_factory=list)                           # topological, if acyclic

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    def problems_of(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    def output_type(self, node_id: str, port: str = "out") -> TensorType | None:
        return self.outputs.get(node_id, {}).get(port)

    def summary(self) -> str:
        """The status-bar line; warnings are counted too, so it agrees with the Problems list."""
        n = len(self.errors)
        w = len(self.problems) - n
        head = f"{n} problem{'s' if n != 1 else ''}" if n else f"valid · {self.total_params:,} parameters"
        return head + (f" · {w} warning{'s' if w != 1 else ''}" if w else "")


_count_cache: dict[str, int] = {}


def count_params(node: Node, ins: dict[str, TensorType]) -> int:
    key = json.dumps([node.type, node.params, {k: [list(map(str, t.shape)), t.dtype, t.cardinality]
                                               for k, t in sorted(ins.items())}], sort_keys=True)
    if key not in _count_cache:
        import torch
        with torch.device("meta"):
            built = node.spec.build(node.params, ins)
        _count_cache[key] = 0 if isinstance(built, Call) else sum(
            p.numel() for p in built.parameters() if p.requires_grad)
    return _count_cache[key]


def analyse(graph: Graph, training: dict | None = None, batch_size: int | None = None,
            free_memory: int | None = None) -> Analysis:
    """`training`: the project's training settings dict; its bad keys are problems too.
    `batch_size`: the batch of the memory estimate; by default the settings' batch when they
    are valid, else 1 (the weights and one sample). `free_memory`: the bytes the model may
    take (a GPU's free memory); by default what this process may still get (`memory.available`)."""
    if batch_size is None:
        batch_size = _training_batch(training)
    result = Analysis()
    add = result.problems.append
    for message in training_problems(training):
        add(Problem(None, message, training=True))
    try:
        result.order = graph.topological_order()
    except CycleError as exc:
        for nid in _cycle_nodes(graph):
            add(Problem(nid, f"{graph.nodes[nid].label()} is part of a {exc}"))
        return result

    for nid in result.order:
        node = graph.nodes[nid]
        spec = node.spec
        if spec is None:
            add(Problem(nid, f"{node.label()}: unknown node type (is the plugin that provides it "
                             f"installed?)"))
            continue
        ins: dict[str, TensorType] = {}
        missing = []
        for port in spec.inputs:
            edges = [e for e in graph.edges_into(nid) if e.dst_port == port.name]
            if not edges:
                if not port.optional:
                    missing.append(port.name)
                continue
            if port.kind == TENSOR:
                upstream = result.output_type(edges[0].src, edges[0].src_port)
                if upstream is None:
                    missing.append(None)  # upstream already has its own problem
                    continue
                ins[port.name] = upstream
        result.inputs[nid] = ins
        named = [m for m in missing if m]
        if named:
            what = " and ".join(f"'{m}'" for m in named)
            inputs = "inputs" if len(named) > 1 else "input"
            verb = "are" if len(named) > 1 else "is"
            add(Problem(nid, f"{node.label()}: {inputs} {what} {verb} not connected"))
        if missing or spec.infer is None:
            continue
        try:
            result.outputs[nid] = spec.infer(node.params, ins)
        except ShapeError as exc:
            add(Problem(nid, f"{node.label()} {exc}"))
            continue
        except (ValueError, KeyError, TypeError) as exc:
            add(Problem(nid, f"{node.label()}: invalid parameters ({exc})"))
            continue
        if spec.role == MODEL and spec.build is not None:
            try:
                result.params[nid] = count_params(node, ins)
            except Exception as exc:  # a layer PyTorch refuses to build: report, never crash
                add(Problem(nid, f"{node.label()} cannot be built: {exc}"))

    _check_training_part(graph, result)
    _check_titles(graph, result)
    _check_memory(graph, result, batch_size, free_memory)
    return result


MEMORY_FLOOR = 256 * 1024 ** 2  # below this a model fits anywhere Workbench runs: no look-up


def _training_batch(training: dict | None) -> int:
    value = (training or {}).get("batch_size", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _check_memory(graph: Graph, result: Analysis, batch_size: int, free: int | None = None) -> None:
    """A model that cannot fit in memory is refused here, before anything is allocated, on its
    biggest node, with the figures. Weights alone too big: an error that stops compiling too.
    Only training too big: an error of the training part (the model still compiles, exports)."""
    est = memory.estimate(result.total_params, result.outputs, batch_size)
    if est.training < MEMORY_FLOOR:
        return
    free = memory.available() if free is None else free
    if free is None or est.training <= free:
        return
    biggest = max(result.params, key=result.params.get, default=None)
    if biggest is None:
        biggest = next(iter(result.order), None)
    node = graph.nodes.get(biggest) if biggest else None
    held = result.params.get(biggest, 0) if node else 0
    if node and held and held < est.params:
        head = f"{node.label()} holds {held:,} of the model's {est.params:,} parameters"
    else:
        head = f"{node.label()}: " if node else ""
        head += f"the model's {est.params:,} parameters" if est.params else "its outputs"
    if est.weights > free:
        message = (f"{head}; their weights alone need {memory.amount(est.weights)}, and only "
                   f"{memory.amount(free)} of memory is available: make the layers smaller")
        result.problems.append(Problem(biggest, message))
    else:
        message = (f"{head}; training needs about {memory.amount(est.training)} (weights, "
                   f"gradients, optimizer state and the activations of a batch of "
                   f"{est.batch_size}), and only {memory.amount(free)} of memory is available: "
                   "make the layers or the batch smaller")
        result.problems.append(Problem(biggest, message, training=True))


def _check_training_part(graph: Graph, result: Analysis) -> None:
    """Problems of the graph as a whole and of its loss/optimizer part.

    Those marked `training` do not stop the model itself from compiling (a model with no
    loss can still be exported); the others do.
    """
    def add(node_id, message, severity=ERROR, training=True):
        # an optimizer's unconnected 'loss' is also a missing input: list it once, as training's
        result.problems[:] = [p for p in result.problems
                              if (p.node_id, p.message) != (node_id, message)]
        result.problems.append(Problem(node_id, message, severity, training))

    role = {nid: (n.spec.role if n.spec else None) for nid, n in graph.nodes.items()}
    label = {nid: n.label() for nid, n in graph.nodes.items()}
    inputs = [n for n in graph.nodes if role[n] == INPUT]
    outputs = [n for n in graph.nodes if role[n] == OUTPUT]
    if not inputs:
        add(None, "the graph has no Input node: add one to feed data to the model", training=False)
    if not outputs:
        add(None, "the graph has no Output node: add one after the last layer", training=False)
    names = [graph.nodes[n].params.get("name") for n in inputs + outputs]
    for nid in inputs + outputs:
        name = graph.nodes[nid].params.get("name")
        if names.count(name) > 1:
            add(nid, f"{label[nid]}: another input or output is also named '{name}'", training=False)
    for nid in outputs:
        if not any(role[e.dst] == LOSS_ROLE for e in graph.edges_from(nid)):
            add(nid, f"{label[nid]} is not connected to a loss: add a loss (e.g. CrossEntropy or "
                     "MSE) to train the model")
    schedules = 0
    for nid in graph.nodes:
        r = role[nid]
        if r == LOSS_ROLE:
            src = graph.source_of(nid, "input")
            if src is not None and role[src.src] != OUTPUT:
                add(nid, f"{label[nid]}: connect its 'input' to an Output node, not to "
                         f"'{graph.nodes[src.src].title}'")
            tgt = graph.source_of(nid, "target")
            if tgt is not None and role[tgt.src] != TARGET:
                add(nid, f"{label[nid]}: connect its 'target' to the Target node")
            if not any(role[e.dst] == OPTIMIZER_ROLE for e in graph.edges_from(nid)):
                add(nid, f"{label[nid]} has no optimizer: connect it to one (e.g. Adam)")
        elif r == OPTIMIZER_ROLE and not graph.edges_into(nid):
            add(nid, f"{label[nid]}: input 'loss' is not connected")
        elif r == SCHEDULE:
            schedules += 1
            if not graph.edges_into(nid):
                add(nid, f"{label[nid]}: input 'optimizer' is not connected")
            elif schedules > 1:
                add(nid, f"{label[nid]}: only one schedule per optimizer is supported")
        elif r == MODEL and not graph.edges_from(nid):
            add(nid, f"{label[nid]}: its output is not used", WARNING, training=False)
        elif r == TARGET and not graph.edges_from(nid):
            add(nid, f"{label[nid]} is not connected to a loss", WARNING)
    optimizers = [n for n in graph.nodes if role[n] == OPTIMIZER_ROLE]
    if len(optimizers) > 1:
        for nid in optimizers:
            add(nid, f"{label[nid]}: only one optimizer per graph is supported")


def _check_titles(graph: Graph, result: Analysis) -> None:
    seen: dict[str, str] = {}
    for nid, node in graph.nodes.items():
        if node.title in seen:
            result.problems.append(Problem(nid, f"{node.label()}: another node has the same title"))
        seen[node.title] = nid


def _cycle_nodes(graph: Graph) -> list[str]:
    """Nodes on a cycle: those that reach themselves."""
    return [nid for nid in graph.nodes
            if any(graph.reaches(e.dst, nid) for e in graph.edges_from(nid))]
