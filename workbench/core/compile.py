"""Compile a checked graph: the model part becomes a `torch.fx.GraphModule` whose code reads
like a hand-written forward; the loss/optimizer part becomes a `TrainingPlan`.

Same graph + same seed -> same initial weights, whatever else the process did before.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import fx, nn

from workbench.core.analysis import Analysis, analyse
from workbench.core.graph import Graph
from workbench.core.modules import recording_arguments
from workbench.core.spec import INPUT, LOSS_ROLE, MODEL, OPTIMIZER_ROLE, OUTPUT, SCHEDULE, Call
from workbench.core.types import TensorType


class CompileError(Exception):
    """The graph has problems; `problems` lists them (each names its node)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


@dataclass
class CompiledModel:
    module: fx.GraphModule
    input_names: list[str]
    output_names: list[str]
    input_types: dict[str, TensorType]
    output_types: dict[str, TensorType]
    submodules: dict[str, str] = field(default_factory=dict)  # node id -> submodule name

    @property
    def code(self) -> str:
        return self.module.code

    def example_inputs(self, batch: int = 2, generator: torch.Generator | None = None) -> tuple:
        """Random inputs of the right shape and type (symbolic sizes other than batch -> 8)."""
        out = []
        for name in self.input_names:
            t = self.input_types[name]
            shape = [batch] + [d if isinstance(d, int) else 8 for d in t.shape[1:]]
            if t.dtype == "int64":
                out.append(torch.randint(0, t.cardinality or 2, shape, generator=generator))
            else:
                out.append(torch.randn(shape, generator=generator))
        return tuple(out)


@dataclass
class LossTerm:
    title: str
    fn: nn.Module
    output: str   # model output name it reads
    target: str   # target name it compares with
    weight: float
    class_weight: str = "none"  # "balanced": the trainer sets fn.weight from the training labels


@dataclass
class TrainingPlan:
    losses: list[LossTerm]
    optimizer_factory: Callable  # params -> torch.optim.Optimizer
    lr: float
    l1: float
    schedule_factory: Callable | None = None  # (optimizer, epochs, steps_per_epoch) -> scheduler
    schedule_step: str | None = None           # "epoch" | "batch" | "plateau"

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return self.optimizer_factory([p for p in model.parameters() if p.requires_grad])

    def make_scheduler(self, optimizer, epochs: int, steps_per_epoch: int):
        if self.schedule_factory is None:
            return None
        return self.schedule_factory(optimizer, epochs, steps_per_epoch)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
             model: nn.Module | None = None) -> torch.Tensor:
        total = None
        for term in self.losses:  # no `0 +` and no `1.0 *`: each is an autograd node per step
            value = term.fn(outputs[term.output], targets[term.target])
            value = value if term.weight == 1.0 else term.weight * value
            total = value if total is None else total + value
        if self.l1 and model is not None:
            total = total + self.l1 * sum(p.abs().sum() for n, p in model.named_parameters()
                                          if p.ndim > 1)
        return total


def identifier(text: str) -> str:
    """A Python identifier made of `text` (a node title, an Input's name): ASCII letters, digits
    and _ only, so no user text reaches generated code as anything but a plain name."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", str(text).strip()).strip("_").lower() or "node"
    if name[0].isdigit():
        name = "n_" + name
    if keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    return name


_RESERVED = set(dir(nn.Module)) | {"self", "torch", "fx", "getattr", "input"}


def _model_part(graph: Graph) -> list[str]:
    """Nodes between the Inputs and the Outputs, in topological order."""
    order = graph.topological_order()
    role = {nid: n.spec.role for nid, n in graph.nodes.items() if n.spec}
    needed: set[str] = set()
    todo = [n for n in order if role.get(n) == OUTPUT]
    while todo:
        nid = todo.pop()
        if nid in needed:
            continue
        needed.add(nid)
        todo.extend(e.src for e in graph.edges_into(nid))
    return [n for n in order if n in needed and role.get(n) in (INPUT, MODEL, OUTPUT)]


def compile_model(graph: Graph, seed: int = 0, analysis: Analysis | None = None,
                  class_name: str = "Model") -> CompiledModel:
    analysis = analysis or analyse(graph)
    part = _model_part(graph) if analysis.order else []
    problems = [p for p in analysis.errors if not p.training and (p.node_id is None or p.node_id in part)]
    if problems or not part:
        raise CompileError(problems or analysis.errors)

    fx_graph = fx.Graph()
    modules: dict[str, nn.Module] = {}
    values: dict[tuple[str, str], fx.Node] = {}
    used: set[str] = set()
    result = CompiledModel(None, [], [], {}, {})  # type: ignore[arg-type]

    def unique(base: str) -> str:
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        return name

    outputs: list[fx.Node] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for nid in part:
            node = graph.nodes[nid]
            spec = node.spec
            if spec.role == INPUT:
                name = unique(identifier(node.params["name"]))
                values[nid, "out"] = fx_graph.placeholder(name)
                result.input_names.append(name)
                result.input_types[name] = analysis.outputs[nid]["out"]
                continue
            ins = analysis.inputs[nid]
            args = [values[e.src, e.src_port] for p in spec.inputs
                    for e in graph.edges_into(nid) if e.dst_port == p.name]
            if spec.role == OUTPUT:
                outputs.append(args[0])
                name = identifier(node.params["name"])
                result.output_names.append(name)
                result.output_types[name] = analysis.outputs[nid]["out"]
                values[nid, "out"] = args[0]
                continue
            with recording_arguments():  # exported code constructs each module the same way
                built = spec.build(node.params, ins)
            name = unique(identifier(node.title))
            if isinstance(built, Call):
                if built.mode == "list":
                    value = fx_graph.create_node("call_function", built.fn, (args,), built.kwargs, name=name)
                else:
                    value = args[0]
                    for i, other in enumerate(args[1:]):
                        value = fx_graph.create_node("call_function", built.fn, (value, other), {},
                                                     name=name if i == len(args) - 2 else unique(name))
            else:
                _initialise(built, node.params)
                if spec.after_init is not None:
                    spec.after_init(built)
                modules[name] = built
                result.submodules[nid] = name
                value = fx_graph.create_node("call_module", name, tuple(args), {}, name=name)
            for port in spec.outputs:
                values[nid, port.name] = value
    fx_graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    fx_graph.lint()
    root = nn.Module()
    for name, module in modules.items():
        root.add_module(name, module)
    result.module = fx.GraphModule(root, fx_graph, class_name=identifier(class_name).title().replace("_", ""))
    return result


def _initialise(module: nn.Module, params: dict) -> None:
    scheme, bias = params.get("init", "default"), params.get("bias_init", "default")
    with torch.no_grad():
        for pname, p in module.named_parameters():
            if p.ndim >= 2 and scheme != "default":
                {"normal": lambda t: nn.init.normal_(t, std=0.02),
                 "xavier_uniform": nn.init.xavier_uniform_,
                 "xavier_normal": nn.init.xavier_normal_,
                 "kaiming_uniform": lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"),
                 "kaiming_normal": lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"),
                 }[scheme](p)
            elif p.ndim == 1 and "bias" in pname and bias == "zeros":
                p.zero_()


def training_plan(graph: Graph, analysis: Analysis | None = None) -> TrainingPlan:
    analysis = analysis or analyse(graph)
    if not analysis.valid:
        raise CompileError(analysis.errors)
    role = {nid: n.spec.role for nid, n in graph.nodes.items()}
    terms = []
    for nid in analysis.order:
        node = graph.nodes[nid]
        if role[nid] != LOSS_ROLE:
            continue
        out = graph.nodes[graph.source_of(nid, "input").src]
        tgt = graph.nodes[graph.source_of(nid, "target").src]
        terms.append(LossTerm(node.title, node.spec.build(node.params, analysis.inputs[nid]),
                              identifier(out.params["name"]), tgt.params["name"], node.params["weight"],
                              node.params.get("class_weight", "none")))
    opt = next(graph.nodes[n] for n in analysis.order if role[n] == OPTIMIZER_ROLE)
    plan = TrainingPlan(terms, opt.spec.build(opt.params, {}), opt.params["lr"], opt.params["l1"])
    sched = next((graph.nodes[e.dst] for e in graph.edges_from(opt.id) if role[e.dst] == SCHEDULE), None)
    if sched is not None:
        plan.schedule_factory = sched.spec.build(sched.params, {})
        plan.schedule_step = sched.spec.extra["step"]
    return plan
