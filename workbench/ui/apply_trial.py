"""Apply a search trial to the project on screen: one undoable edit.

A trial's values can change parameters, node types and the structure (a repeated chain, the
branch in use) and training settings. `search_space.apply` builds the trial's project as a
copy; this command then *morphs* the document's graph into that copy's graph through plain
Graph operations (disconnect, remove, insert, set_param, set_title, move, connect), so the
canvas follows by the graph's events like after any other edit, and undo morphs it back. The
training settings are replaced in the same step (like SetTraining), so one Ctrl+Z puts the
project back exactly.

The values are the trial's searched values only; the search's "epochs per trial" override is
a property of the search, not of the trial, so the project keeps its own epochs unless epochs
were searched.
"""
from __future__ import annotations

import copy

from workbench.core import search_space as ss
from workbench.core.graph import Graph, GraphError
from workbench.ui.editor.commands import GraphCommand


def morph(graph: Graph, target: Graph) -> None:
    """Change `graph` into `target` (same ids, types, params, titles, places, edges and
    order) with the Graph's own operations. Node ids decide what is the same node; a node
    whose type or parameter names changed is removed and inserted anew."""
    goal = set(target.edges)
    for e in [e for e in graph.edges if e not in goal]:
        graph.disconnect(e)
    for nid, node in list(graph.nodes.items()):
        new = target.nodes.get(nid)
        if new is None or new.type != node.type or set(new.params) != set(node.params):
            graph.remove_node(nid)
    for nid, new in target.nodes.items():
        node = graph.nodes.get(nid)
        if node is None:
            continue
        for name, value in new.params.items():
            if node.params.get(name) != value:
                graph.set_param(nid, name, copy.deepcopy(value))
        if node.title != new.title:
            graph.set_title(nid, new.title)
        if tuple(node.pos) != tuple(new.pos):
            graph.move_node(nid, new.pos)
    for nid, new in target.nodes.items():
        if nid not in graph.nodes:
            graph.insert_node(copy.deepcopy(new))
    have = set(graph.edges)
    for e in target.edges:
        if e not in have:
            graph.connect(e.src, e.src_port, e.dst, e.dst_port)
    graph.restore_order(target.order())


class ApplyTrial(GraphCommand):
    """Write a trial's values into the document's project. Raises ss.TrialInvalid (values the
    graph no longer takes: a node deleted since the search) or GraphError when it is made,
    so nothing that cannot be redone is pushed."""

    def __init__(self, document, space: ss.SearchSpace, values: dict, number: int | None = None):
        project = document.project
        trial = ss.apply(project, space, values)
        self.document = document
        self.old_graph, self.new_graph = project.graph.copy(), trial.graph.copy()
        self.old_training = copy.deepcopy(project.training)
        self.new_training = copy.deepcopy(trial.training)
        check = project.graph.copy()
        morph(check, self.new_graph)
        if not check.same_as(self.new_graph):   # pragma: no cover - morph's own guarantee
            raise GraphError("the trial's graph cannot be reached by graph edits")
        super().__init__(project.graph, f"Apply trial {number}" if number is not None else "Apply trial")

    def apply(self) -> None:
        morph(self.graph, self.new_graph)
        self.document.project.training = copy.deepcopy(self.new_training)
        self.document.trainingChanged.emit()

    def revert(self) -> None:
        morph(self.graph, self.old_graph)
        self.document.project.training = copy.deepcopy(self.old_training)
        self.document.trainingChanged.emit()
