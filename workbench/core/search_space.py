"""The search space a project carries: which values a search may change, and how a trial's
values become a project to train.

Saved as the project file's `"search"` object (docs/project-format.md):

    {"objective": "val_loss", "sampler": "tpe", "pruner": "median", "trials": 20,
     "space": [{"name": "adam.lr", "kind": "float", "node": "n10", "param": "lr",
                "low": 1e-4, "high": 0.1, "log": true}, ...]}

A dimension is one of
    float / int   a node parameter (`node`, `param`) or a training setting (`setting`, dotted
                  for nested keys: "early_stopping.patience"); `low`, `high`, `log`, `step`
    choice        the same targets, one of `choices`
    type          a node's type, one of `choices` (Adam / SGD / AdamW; StepLR / CosineLR):
                  the parameters both types have are kept
    repeat        a chain of nodes (`nodes`, in order) used `low`..`high` times in series
                  (0 bypasses it); a chain that changes its input's shape fails as a pruned trial
    branch        one of several chains (`options`, lists of node ids) fed from the same
                  output; the chain that feeds the rest of the graph is the one in use, the
                  others are parked (their output unused) until a trial picks them

Everything here is plain data and graph edits: no Optuna (workbench/search/study.py asks Optuna for values and
calls `apply`). Node ids, not titles, name the targets, so renaming a node keeps its search.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core import catalog
from workbench.core.graph import Edge, Graph, GraphError
from workbench.core.spec import INPUT, OUTPUT, TARGET
from workbench.core.training_settings import TrainingSettings, TrainingSettingsError

if TYPE_CHECKING:
    from workbench.core.project import Project

KINDS = ("float", "int", "choice", "type", "repeat", "branch")
SAMPLERS = ("tpe", "random", "nsga2", "qmc")
PRUNERS = ("median", "hyperband", "none")
# training settings a search may vary, and their kind (the rest would change what is measured)
SETTINGS = {"epochs": "int", "batch_size": "int", "grad_clip": "float",
            "early_stopping.patience": "int", "early_stopping.min_delta": "float"}
MAX_REPEAT = 32


class SpaceError(ValueError):
    """A search space that cannot be used; one line starting with where (`search.space[2].low`)."""


class TrialInvalid(Exception):
    """A trial's values make a graph that cannot be built (reported as a pruned trial)."""


@dataclass
class Dim:
    name: str
    kind: str
    node: str | None = None
    param: str | None = None
    setting: str | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)          # repeat: the chain, in order
    options: list[list[str]] = field(default_factory=list)  # branch: the alternative chains

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        for key in ("node", "param", "setting"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.kind in ("float", "int", "repeat"):
            out["low"], out["high"] = self.low, self.high
        if self.kind in ("float", "int"):
            if self.log:
                out["log"] = True
            if self.step is not None:
                out["step"] = self.step
        if self.kind in ("choice", "type"):
            out["choices"] = list(self.choices)
        if self.kind == "repeat":
            out["nodes"] = list(self.nodes)
        if self.kind == "branch":
            out["options"] = [list(o) for o in self.options]
        return out

    def target(self) -> str:
        """What it changes, in words: `node n10 lr`, `training batch_size`."""
        if self.setting is not None:
            return f"training.{self.setting}"
        if self.kind == "repeat":
            return "repeat " + "→".join(self.nodes)
        if self.kind == "branch":
            return "branch " + " | ".join("→".join(o) for o in self.options)
        return f"{self.node}.{self.param or 'type'}"


@dataclass
class SearchSpace:
    space: list[Dim] = field(default_factory=list)
    objective: str = "val_loss"
    sampler: str = "tpe"
    pruner: str = "median"
    trials: int = 20

    def to_dict(self) -> dict:
        return {"objective": self.objective, "sampler": self.sampler, "pruner": self.pruner,
                "trials": self.trials, "space": [d.to_dict() for d in self.space]}

    def dim(self, name: str) -> Dim | None:
        return next((d for d in self.space if d.name == name), None)

    def targeting(self, node_id: str, param: str | None = None) -> Dim | None:
        """The dimension that searches this node parameter (param None: its type)."""
        for d in self.space:
            if d.node == node_id and d.kind in ("float", "int", "choice", "type") \
                    and d.param == param:
                return d
        return None

    def setting_dim(self, setting: str) -> Dim | None:
        return next((d for d in self.space if d.setting == setting), None)

    def replaced(self, dim: Dim) -> "SearchSpace":
        """A copy with `dim` added, or replacing the dimension of the same name or target."""
        out = copy.deepcopy(self)
        keep = [d for d in out.space if d.name != dim.name and
                (d.target() != dim.target() or dim.kind in ("repeat", "branch"))]
        out.space = keep + [copy.deepcopy(dim)]
        return out

    def without(self, name: str) -> "SearchSpace":
        out = copy.deepcopy(self)
        out.space = [d for d in out.space if d.name != name]
        return out


# -- reading and checking -------------------------------------------------------------------

def of(project: "Project") -> SearchSpace:
    """The project's search space (empty if it has none); raises SpaceError if it is malformed."""
    doc = project.extra.get("search")
    return from_dict(doc) if doc is not None else SearchSpace()


def store(project: "Project", space: SearchSpace) -> None:
    """Write `space` into the project (an empty one removes the key)."""
    if space.space or space != SearchSpace():
        project.extra["search"] = space.to_dict()
    else:
        project.extra.pop("search", None)


def from_dict(doc: Any) -> SearchSpace:
    def fail(where: str, why: str) -> SpaceError:
        return SpaceError(f"search{where}: {why}")

    if not isinstance(doc, dict):
        raise fail("", f"expected an object, got {type(doc).__name__}")
    out = SearchSpace()
    objective = doc.get("objective", out.objective)
    if not isinstance(objective, str) or not objective.startswith(("val_", "test_")):
        raise fail(".objective", f"expected val_loss or val_<metric>, got {objective!r}")
    sampler = doc.get("sampler", out.sampler)
    if sampler not in SAMPLERS:
        raise fail(".sampler", f"expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
    pruner = doc.get("pruner", out.pruner)
    if pruner not in PRUNERS:
        raise fail(".pruner", f"expected one of {', '.join(PRUNERS)}, got {pruner!r}")
    trials = doc.get("trials", out.trials)
    if not _whole(trials) or trials < 1:
        raise fail(".trials", f"expected a whole number >= 1, got {trials!r}")
    space = doc.get("space", [])
    if not isinstance(space, list):
        raise fail(".space", "expected a list")
    dims: list[Dim] = []
    for i, item in enumerate(space):
        dims.append(_dim(item, lambda why, key="", i=i: fail(f".space[{i}]{'.' + key if key else ''}", why)))
    names = [d.name for d in dims]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise fail(".space", f"two dimensions are named {dup!r}")
    return SearchSpace(dims, objective, sampler, pruner, int(trials))


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _dim(item: Any, fail) -> Dim:
    if not isinstance(item, dict):
        raise fail("expected an object")
    kind = item.get("kind")
    if kind not in KINDS:
        raise fail(f"expected one of {', '.join(KINDS)}, got {kind!r}", "kind")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("expected a non-empty name", "name")
    d = Dim(name.strip(), kind)
    for key in ("node", "param", "setting"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"expected text, got {value!r}", key)
        setattr(d, key, value)
    if kind in ("float", "int", "choice"):
        if (d.setting is None) == (d.node is None or d.param is None):
            raise fail("names either a node and its param, or a training setting")
        if d.setting is not None and d.setting not in SETTINGS:
            raise fail(f"a search can vary {', '.join(SETTINGS)}; not {d.setting!r}", "setting")
    if kind == "type" and d.node is None:
        raise fail("a type choice names its node", "node")
    if kind in ("float", "int", "repeat"):
        low, high = item.get("low"), item.get("high")
        want = _number if kind == "float" else _whole
        for key, value in (("low", low), ("high", high)):
            if not want(value):
                raise fail(f"expected {'a number' if kind == 'float' else 'a whole number'}, got {value!r}", key)
        if low > high:
            raise fail(f"low {low} is above high {high}", "low")
        d.low, d.high = low, high
        if kind == "repeat" and (low < 0 or high > MAX_REPEAT):
            raise fail(f"a chain repeats 0 to {MAX_REPEAT} times", "high")
    if kind in ("float", "int"):
        d.log = bool(item.get("log", False))
        if d.log and d.low <= 0:
            raise fail("a log scale needs low > 0", "low")
        step = item.get("step")
        if step is not None:
            if not _number(step) or step <= 0 or (kind == "int" and not _whole(step)):
                raise fail(f"expected a positive step, got {step!r}", "step")
            if d.log:
                raise fail("a log scale takes no step", "step")
            d.step = step
    if kind in ("choice", "type"):
        choices = item.get("choices")
        if not isinstance(choices, list) or len(choices) < 1:
            raise fail("expected a list of choices", "choices")
        if any(not (isinstance(c, (str, bool, int)) or _number(c)) for c in choices):
            raise fail("choices are numbers, text or true/false", "choices")
        if len({repr(c) for c in choices}) != len(choices):
            raise fail("a choice is listed twice", "choices")
        d.choices = list(choices)
    if kind == "repeat":
        d.nodes = _ids(item.get("nodes"), lambda why: fail(why, "nodes"))
    if kind == "branch":
        options = item.get("options")
        if not isinstance(options, list) or len(options) < 2:
            raise fail("expected two or more chains", "options")
        d.options = [_ids(o, lambda why, j=j: fail(why, f"options[{j}]")) for j, o in enumerate(options)]
    return d


def _ids(value, fail) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise fail("expected a list of node ids")
    if len(set(value)) != len(value):
        raise fail("a node is listed twice")
    return list(value)


def problems(space: SearchSpace, graph: Graph) -> list[str]:
    """What is wrong with the space for this graph, one line each (a deleted node, a range
    outside the parameter's limits, a chain that is not a chain)."""
    out: list[str] = []
    for d in space.space:
        try:
            _check_dim(d, graph)
        except SpaceError as exc:
            out.append(f"search '{d.name}': {exc}")
    return out


def _check_dim(d: Dim, graph: Graph) -> None:
    if d.kind in ("float", "int", "choice", "type") and d.node is not None:
        node = graph.nodes.get(d.node)
        if node is None or node.spec is None:
            raise SpaceError(f"node {d.node} is not in the graph")
        if d.kind == "type":
            spec = node.spec
            for t in d.choices:
                other = catalog.find(t) if isinstance(t, str) else None
                if other is None:
                    raise SpaceError(f"unknown node type {t!r}")
                if other.role != spec.role or other.category != spec.category:
                    raise SpaceError(f"{t} cannot replace {node.label()}: another kind of node")
            return
        param = next((p for p in node.spec.params if p.name == d.param), None)
        if param is None:
            raise SpaceError(f"{node.label()} has no parameter {d.param!r}")
        if node.spec.role in (INPUT, TARGET) or _feeds_output(graph, node, d.param):
            raise SpaceError(f"{node.label()} · {d.param} is set from the data before each "
                             "training: searching it changes nothing")
        values = d.choices if d.kind == "choice" else [d.low, d.high]
        if d.kind != "choice" and param.kind not in ("int", "float"):
            raise SpaceError(f"'{d.param}' is a {param.kind}, search it as a choice")
        if d.kind == "float" and param.kind == "int":
            raise SpaceError(f"'{d.param}' is a whole number: use an int range")
        for v in values:
            try:
                param.check(v)
            except ValueError as exc:
                raise SpaceError(str(exc)) from None
    elif d.kind in ("float", "int", "choice"):
        if d.kind == "float" and SETTINGS[d.setting] == "int":
            raise SpaceError(f"training.{d.setting} is a whole number: use an int range")
        for v in (d.choices if d.kind == "choice" else [d.low, d.high]):
            _with_setting({}, d.setting, v)
    elif d.kind == "repeat":
        _chain(graph, d.nodes)
    elif d.kind == "branch":
        _branch_state(graph, d.options)


def _feeds_output(graph: Graph, node, param: str) -> bool:
    """The head's width (the layer feeding an Output) is fitted to the classes or targets."""
    if param != node.spec.width_param:
        return False
    return any(graph.nodes[e.dst].spec is not None and graph.nodes[e.dst].spec.role == OUTPUT
               for e in graph.edges_from(node.id) if e.dst in graph.nodes)


# -- the values of one trial ----------------------------------------------------------------

def current(space: SearchSpace, project: "Project") -> dict[str, Any] | None:
    """The values the project has now (the baseline trial), or None where one lies outside
    its range (then there is no baseline to enqueue)."""
    g, training = project.graph, project.training
    out: dict[str, Any] = {}
    for d in space.space:
        if d.kind == "repeat":
            value: Any = 1
        elif d.kind == "branch":
            value = _branch_state(g, d.options)[0]
        elif d.kind == "type":
            value = g.nodes[d.node].type if d.node in g.nodes else None
        elif d.setting is not None:
            settings = TrainingSettings.from_dict(training).to_dict()
            value = settings
            for part in d.setting.split("."):
                value = value[part]
        else:
            node = g.nodes.get(d.node)
            value = node.params.get(d.param) if node else None
        if not inside(d, value):
            return None
        out[d.name] = value
    return out


def inside(d: Dim, value) -> bool:
    if d.kind in ("choice", "type"):
        return value in d.choices
    if d.kind == "branch":
        return isinstance(value, int) and 0 <= value < len(d.options)
    if not _number(value):
        return False
    if d.step is not None and d.kind == "int" and (value - d.low) % d.step:
        return False
    return d.low <= value <= d.high


def apply(project: "Project", space: SearchSpace, values: dict[str, Any]) -> "Project":
    """A copy of `project` with a trial's values in it. Raises TrialInvalid (a value a
    parameter refuses, a chain that is gone); shape errors are left to the analysis."""
    out = project.copy()
    g = out.graph
    try:
        for d in space.space:
            if d.name not in values:
                continue
            value = values[d.name]
            if d.setting is not None:
                out.training = _with_setting(out.training, d.setting, value)
            elif d.kind in ("float", "int", "choice"):
                g.set_param(d.node, d.param, value)
            elif d.kind == "type":
                retype(g, d.node, value)
        # structure last: repeats add nodes the parameter values above were already set on
        for d in space.space:
            if d.name in values and d.kind == "branch":
                choose_branch(g, d.options, int(values[d.name]))
        for d in space.space:
            if d.name in values and d.kind == "repeat":
                repeat(g, d.nodes, int(values[d.name]))
    except (GraphError, SpaceError, KeyError) as exc:
        raise TrialInvalid(str(exc).strip("'\"")) from None
    return out


def _with_setting(training: dict, key: str, value) -> dict:
    out = copy.deepcopy(training)
    parts = key.split(".")
    d = out
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value
    try:
        TrainingSettings.from_dict(out)
    except TrainingSettingsError as exc:
        raise SpaceError(str(exc)) from None
    return out


def retype(g: Graph, node_id: str, type_name: str) -> None:
    """Give a node another type in place: same id, title, place and wiring; the parameters
    the two types share keep their values."""
    node = g.node(node_id)
    if node.type == type_name:
        return
    spec = catalog.find(type_name)
    if spec is None:
        raise GraphError(f"unknown node type '{type_name}'")
    kept = {p.name: node.params[p.name] for p in spec.params if p.name in node.params}
    edges = [e for e in g.edges if node_id in (e.src, e.dst)]
    g.remove_node(node_id)
    new = g.make_node(type_name, node.title, kept, node.pos, id=node_id)
    g.insert_node(new, edges)


def _chain(g: Graph, ids: list[str]) -> tuple[Edge, list[Edge]]:
    """Check that `ids` is a chain (each node fed only by the one before it, through one
    input) and return the edge into it and the edges out of its last node."""
    for nid in ids:
        if nid not in g.nodes:
            raise SpaceError(f"node {nid} is not in the graph")
    first, last = ids[0], ids[-1]
    into = g.edges_into(first)
    if len(into) != 1 or into[0].src in ids:
        raise SpaceError(f"the chain must start at a node with one input ({g.nodes[first].title} has {len(into)})")
    for a, b in zip(ids, ids[1:]):
        ins, outs = g.edges_into(b), g.edges_from(a)
        if len(ins) != 1 or ins[0].src != a or len(outs) != 1:
            raise SpaceError(f"'{g.nodes[a].title}' → '{g.nodes[b].title}' is not a plain link of a chain")
    return into[0], g.edges_from(last)


def repeat(g: Graph, ids: list[str], times: int) -> list[str]:
    """Use the chain `times` times in series (0: bypass and remove it). Returns the new ids."""
    entry, exits = _chain(g, ids)
    if times == 1:
        return []
    if times == 0:
        for e in exits:
            g.disconnect(e)
        for nid in ids:
            g.remove_node(nid)
        for e in exits:
            g.connect(entry.src, entry.src_port, e.dst, e.dst_port)
        return []
    for e in exits:
        g.disconnect(e)
    out_port = exits[0].src_port if exits else "out"
    made: list[str] = []
    prev, prev_port = ids[-1], out_port
    width = max(g.nodes[i].pos[0] for i in ids) - min(g.nodes[i].pos[0] for i in ids) + 280.0
    for k in range(1, times):
        mapping: dict[str, str] = {}
        for nid in ids:
            src = g.nodes[nid]
            node = g.make_node(src.type, g.unique_title(f"{src.title} ×{k + 1}"),
                               copy.deepcopy(src.params), (src.pos[0] + width * k, src.pos[1] + 140.0 * k))
            g.insert_node(node)
            mapping[nid] = node.id
            made.append(node.id)
        g.connect(prev, prev_port, mapping[ids[0]], entry.dst_port)
        for a, b in zip(ids, ids[1:]):
            link = g.edges_into(b)[0]
            g.connect(mapping[a], link.src_port, mapping[b], link.dst_port)
        prev = mapping[ids[-1]]
    for e in exits:
        g.connect(prev, e.src_port, e.dst, e.dst_port)
    return made


def _branch_state(g: Graph, options: list[list[str]]) -> tuple[int, list[Edge]]:
    """Which option is in use (its last node feeds the graph) and the edges it feeds."""
    feeds: list[int] = []
    source = None
    for i, ids in enumerate(options):
        entry, exits = _chain(g, ids)
        if source is None:
            source = (entry.src, entry.src_port)
        elif (entry.src, entry.src_port) != source:
            raise SpaceError("the alternatives must all be fed from the same output "
                             f"('{g.nodes[ids[0]].title}' is fed from elsewhere)")
        if exits:
            feeds.append(i)
    if len(feeds) != 1:
        raise SpaceError("exactly one alternative must feed the rest of the graph "
                         f"({len(feeds)} do); the others stay unconnected at their end")
    return feeds[0], g.edges_from(options[feeds[0]][-1])


def choose_branch(g: Graph, options: list[list[str]], index: int) -> None:
    """Move what the alternative in use feeds over to alternative `index`."""
    if not 0 <= index < len(options):
        raise SpaceError(f"there is no alternative {index}")
    used, exits = _branch_state(g, options)
    if used == index:
        return
    last = options[index][-1]
    port = g.nodes[last].spec.outputs[0].name if g.nodes[last].spec else "out"
    for e in exits:
        g.disconnect(e)
        g.connect(last, port, e.dst, e.dst_port)


def label(d: Dim, graph: Graph | None = None) -> str:
    """A default dimension name from its target, with node titles where the graph has them."""
    def title(nid: str) -> str:
        node = graph.nodes.get(nid) if graph is not None else None
        return node.title if node else nid
    if d.setting is not None:
        return d.setting
    if d.kind == "repeat":
        return f"repeat {title(d.nodes[0])}" + (f"…{title(d.nodes[-1])}" if len(d.nodes) > 1 else "")
    if d.kind == "branch":
        return "branch " + "/".join(title(o[0]) for o in d.options)
    return f"{title(d.node)}.{d.param or 'type'}"


def describe(d: Dim, value, graph: Graph | None = None) -> str:
    """A trial value as a user reads it (a branch index becomes its chain's first title)."""
    if d.kind == "branch" and isinstance(value, int) and 0 <= value < len(d.options):
        nid = d.options[value][0]
        node = graph.nodes.get(nid) if graph is not None else None
        return node.title if node else nid
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
