"""Runs side by side: what differed between them (settings, architecture) and how they learned
(curves). Everything is read from the run folders (the project as trained, metrics.jsonl), so a
comparison shows what was trained, not what the project says now.

Nodes are matched between two projects by id first (a node edited in place keeps its id), then
by type and title (two projects built separately from one template number their nodes alike
but not always the same way).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.graph import Edge, Node
from workbench.core.project import Project
from workbench.core.spec import OPTIMIZER_ROLE
from workbench.core.training_settings import TrainingSettings, TrainingSettingsError
from workbench.data.settings import DataSettings
from workbench.train.runs import RunRecord

TRIAL = re.compile(r"trial-(\d+)")


def run_name(folder: str | Path) -> str:
    """How a run is called in lists and legends: its folder's name, and for a search trial
    (`runs/search-<name>/trial-<n>/`) "search-<name> / trial n"."""
    folder = Path(folder)
    match = TRIAL.fullmatch(folder.name)
    if match and folder.parent.name.startswith("search-"):
        return f"{folder.parent.name} / trial {int(match.group(1))}"
    return folder.name


# -- settings -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingRow:
    key: str                 # "training.epochs", "data.split.seed", "Adam · lr", "Linear 'fc1' · out_features"
    values: tuple            # one per project; None where that project has no such setting
    differs: bool


def settings_diff(projects: list[Project]) -> list[SettingRow]:
    """One row per setting any of the projects has: training, data, optimizer, then every
    node's parameters. Nodes are keyed by type and title, which is what the user reads."""
    columns = [_settings(p) for p in projects]
    keys: list[str] = []
    for group in range(4):           # each group's keys together, first project's order first
        for column in columns:
            keys += [k for k in column[group] if k not in keys]
    merged = [{k: v for group in column for k, v in group.items()} for column in columns]
    rows = []
    for key in keys:
        values = tuple(m.get(key) for m in merged)
        rows.append(SettingRow(key, values, any(not _same(values[0], v) for v in values[1:])))
    return rows


def _settings(project: Project) -> list[dict]:
    try:
        training = TrainingSettings.from_dict(project.training).to_dict()
    except TrainingSettingsError:     # a run folder edited by hand: show what it says
        training = project.training if isinstance(project.training, dict) else {}
    data = DataSettings().to_dict()
    for key, value in (project.data if isinstance(project.data, dict) else {}).items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) \
            and isinstance(value, dict) and key not in ("roles", "types") else value
    for key in ("path", "test_path"):   # a run's copy says "../iris.csv", a trial's "../../iris.csv"
        if isinstance(data.get(key), str) and data[key] and project.path is not None:
            data[key] = str((project.folder / data[key]).resolve())
    optimizer, nodes = {}, {}
    for node in project.graph.nodes.values():
        spec = node.spec
        if spec is not None and spec.role == OPTIMIZER_ROLE:
            optimizer.update({f"{node.type} · {k}": v for k, v in node.params.items()})
        else:
            nodes.update({f"{node.label()} · {k}": v for k, v in node.params.items()})
    return [_flat("training", training), _flat("data", data), optimizer, nodes]


def _flat(prefix: str, d: dict) -> dict:
    """Nested settings as dotted keys; roles and types (column → value) stay whole."""
    out = {}
    for key, value in d.items():
        if isinstance(value, dict) and key not in ("roles", "types"):
            out.update(_flat(f"{prefix}.{key}", value))
        else:
            out[f"{prefix}.{key}"] = value
    return out


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def show(value) -> str:
    """A setting as the user reads it: numbers short, text as is, absent as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- architecture ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeRef:
    id: str
    type: str
    title: str

    @property
    def label(self) -> str:
        return f"{self.type} '{self.title}'"


@dataclass(frozen=True)
class ParamChange:
    node: NodeRef            # as it is in the first project
    param: str               # "title" for a renamed node
    old: object
    new: object


@dataclass
class ArchDiff:
    added: list[NodeRef] = field(default_factory=list)       # in b only
    removed: list[NodeRef] = field(default_factory=list)     # in a only
    changed: list[ParamChange] = field(default_factory=list)
    edges_added: list[str] = field(default_factory=list)     # "fc1.out → relu2.in", b's titles
    edges_removed: list[str] = field(default_factory=list)   # a's titles

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.edges_added
                    or self.edges_removed)


def match_nodes(a: Project, b: Project) -> dict[str, str]:
    """b's node id → a's node id for the nodes both have (id and type first, then type+title)."""
    na, nb = a.graph.nodes, b.graph.nodes
    pairs = {i: i for i, n in nb.items() if i in na and na[i].type == n.type}
    free = [n for i, n in na.items() if i not in pairs.values()]
    for i, n in nb.items():
        if i in pairs:
            continue
        twin = next((m for m in free if m.type == n.type and m.title == n.title), None)
        if twin is not None:
            pairs[i] = twin.id
            free.remove(twin)
    return pairs


def architecture_diff(a: Project, b: Project) -> ArchDiff:
    """What changed from a to b: nodes added/removed, parameters (and titles) changed, edges."""
    pairs = match_nodes(a, b)
    na, nb = a.graph.nodes, b.graph.nodes
    diff = ArchDiff()
    diff.removed = [_ref(n) for i, n in na.items() if i not in pairs.values()]
    diff.added = [_ref(n) for i, n in nb.items() if i not in pairs]
    for ib, ia in pairs.items():
        old, new = na[ia], nb[ib]
        if old.title != new.title:
            diff.changed.append(ParamChange(_ref(old), "title", old.title, new.title))
        for key in list(old.params) + [k for k in new.params if k not in old.params]:
            before, after = old.params.get(key), new.params.get(key)
            if not _same(before, after):
                diff.changed.append(ParamChange(_ref(old), key, before, after))

    def in_a_terms(e: Edge) -> tuple:  # b's edge with b's ids replaced by their twins in a
        return (pairs.get(e.src, "b:" + e.src), e.src_port, pairs.get(e.dst, "b:" + e.dst), e.dst_port)

    edges_a = {(e.src, e.src_port, e.dst, e.dst_port): e for e in a.graph.edges}
    edges_b = {in_a_terms(e): e for e in b.graph.edges}
    diff.edges_removed = [_edge(e, na) for k, e in edges_a.items() if k not in edges_b]
    diff.edges_added = [_edge(e, nb) for k, e in edges_b.items() if k not in edges_a]
    return diff


def _ref(node: Node) -> NodeRef:
    return NodeRef(node.id, node.type, node.title)


def _edge(e: Edge, nodes: dict[str, Node]) -> str:
    return f"{nodes[e.src].title}.{e.src_port} → {nodes[e.dst].title}.{e.dst_port}"


def describe(diff: ArchDiff) -> list[str]:
    """One line per difference, for people."""
    if diff.same:
        return ["same architecture"]
    lines = [f"added {n.label}" for n in diff.added]
    lines += [f"removed {n.label}" for n in diff.removed]
    for c in diff.changed:
        if c.param == "title":
            lines.append(f"renamed {c.node.label} to '{c.new}'")
        else:
            lines.append(f"{c.node.label}: {c.param} {show(c.old)} → {show(c.new)}")
    lines += [f"connected {e}" for e in diff.edges_added]
    lines += [f"disconnected {e}" for e in diff.edges_removed]
    return lines


# -- curves ---------------------------------------------------------------------------------
def curves(record: RunRecord) -> dict[str, list[tuple[int, float]]]:
    """(epoch, value) series from the run's epoch events (`read_run(folder, events=True)`):
    "loss" (training), "val_loss", "lr" and `<split>_<metric>` for every scalar metric
    ("val_accuracy", "val_r2", ...). Missing or non-finite values are left out."""
    out: dict[str, list[tuple[int, float]]] = {}

    def add(name: str, epoch: int, value) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.setdefault(name, []).append((epoch, float(value)))

    for e in record.epochs:
        epoch = e.get("epoch", 0)
        add("loss", epoch, e.get("train_loss"))
        add("val_loss", epoch, e.get("val_loss"))
        metrics = e.get("metrics")
        for split, values in (metrics.items() if isinstance(metrics, dict) else ()):
            for name, value in (values.items() if isinstance(values, dict) else ()):
                if name != "loss":
                    add(f"{split}_{name}", epoch, value)
        add("lr", epoch, e.get("lr"))
    return out
