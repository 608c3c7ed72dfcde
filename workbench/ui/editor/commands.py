"""Undoable commands: each redo/undo calls the core Graph's methods and nothing else.

The scene never changes in a command; it mirrors the graph through the graph's events.
Undo restores the graph exactly, including the order of nodes and edges (so a project saved
after undo is byte-identical to one saved before the edit).

A command is checked when it is made (its constructor raises GraphError with the reason), so
a command on the undo stack always redoes: nothing half-applied is ever pushed. While data is
loaded, the document gives each command a `fitter`: the nodes a command adds or rewires are
fitted to the data in the same step (one undo removes a node and its fitting).
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from workbench.core.graph import Edge, Graph, GraphError, Node


class GraphCommand(QUndoCommand):
    """Base: remembers the graph's order before the first redo and restores it after undo."""

    def __init__(self, graph: Graph, text: str):
        super().__init__(text)
        self.graph = graph
        self._before: tuple[list[str], list[Edge]] | None = None
        self.fitter = None   # (graph, node ids) -> [(node id, param, old, new)]; see the module
        self.fitted: list[tuple[str, str, object, object]] | None = None

    def redo(self) -> None:
        self._before = self.graph.order()
        if self.fitted is None:
            touched: set[str] = set()
            self.graph.subscribe(listener := _touched_by(touched))
            try:
                self.apply()
            finally:
                self.graph.unsubscribe(listener)
            self.fitted = []
            if self.fitter is not None and touched:
                try:
                    self.fitted = self.fitter(self.graph, touched)
                except (GraphError, ValueError, KeyError, TypeError):
                    pass  # fitting is a courtesy: the data's problems list what still differs
        else:
            self.apply()
        for nid, name, _old, new in self.fitted:
            self.graph.set_param(nid, name, new)

    def undo(self) -> None:
        for nid, name, old, _new in reversed(self.fitted or []):
            self.graph.set_param(nid, name, old)
        self.revert()
        if self._before is not None:
            self.graph.restore_order(self._before)

    def apply(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def revert(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _touched_by(touched: set[str]):
    """A graph listener collecting the nodes an edit adds or connects (not mere moves or
    parameter edits: a value the user typed is theirs; a mismatch then shows as a problem)."""
    def listener(ev) -> None:
        if ev.kind == "node_added":
            touched.add(ev.node_id)
        elif ev.kind in ("edge_added", "edge_removed"):
            touched.update((ev.edge.src, ev.edge.dst))
    return listener


def _checked_connect(graph: Graph, edge: Edge, removed: list[Edge] = ()) -> None:
    """Raise the GraphError `connect` would raise once `removed` are gone."""
    if removed:
        graph = graph.copy()
        for e in removed:
            graph.disconnect(e)
    graph.check_connect(edge.src, edge.src_port, edge.dst, edge.dst_port)


class AddNode(GraphCommand):
    """Built and checked here (Orange's AddNodeCommand(scheme, node)): an unknown type or a
    bad parameter raises GraphError now, so nothing is pushed that could not be redone."""

    def __init__(self, graph: Graph, type_name: str, pos: tuple[float, float],
                 params: dict | None = None, title: str | None = None):
        self.node: Node = graph.make_node(type_name, title, params, pos)
        super().__init__(graph, f"Add {type_name}")
        self.type_name = type_name

    def apply(self) -> None:
        self.graph.insert_node(copy.deepcopy(self.node))

    def revert(self) -> None:
        self.graph.remove_node(self.node.id)


class SpliceNode(GraphCommand):
    """A new node dropped onto an edge: the edge's source feeds the node, the node feeds the
    edge's destination, in one step."""

    def __init__(self, graph: Graph, type_name: str, pos: tuple[float, float], edge: Edge,
                 params: dict | None = None):
        self.node: Node = graph.make_node(type_name, None, params, pos)
        spec = self.node.spec
        src_kind = graph.node(edge.src).spec.output(edge.src_port).kind
        dst_kind = graph.node(edge.dst).spec.input(edge.dst_port).kind
        inp = next((p.name for p in spec.inputs if p.kind == src_kind), None)
        out = next((p.name for p in spec.outputs if p.kind == dst_kind), None)
        if inp is None or out is None:
            raise GraphError(f"{self.node.label()} has no {src_kind} input and {dst_kind} "
                             "output to put into that connection")
        self.edge = edge
        self.edges = [Edge(edge.src, edge.src_port, self.node.id, inp),
                      Edge(self.node.id, out, edge.dst, edge.dst_port)]
        trial = graph.copy()
        trial.disconnect(edge)
        trial.insert_node(copy.deepcopy(self.node), self.edges)  # raises if not allowed
        super().__init__(graph, f"Insert {type_name}")

    def apply(self) -> None:
        self.graph.disconnect(self.edge)
        self.graph.insert_node(copy.deepcopy(self.node), self.edges)

    def revert(self) -> None:
        self.graph.remove_node(self.node.id)
        e = self.edge
        self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)


class InsertNodes(GraphCommand):
    """Paste / duplicate: whole nodes with fresh ids and the edges between them."""

    def __init__(self, graph: Graph, nodes: list[Node], edges: list[Edge], text: str = "Paste"):
        trial = graph.copy()  # raises now what the redo would (an id taken, a bad edge)
        for node in nodes:
            trial.insert_node(copy.deepcopy(node))
        for e in edges:
            trial.connect(e.src, e.src_port, e.dst, e.dst_port)
        super().__init__(graph, f"{text} {len(nodes)} node{'s' if len(nodes) != 1 else ''}")
        self.nodes, self.edges = [copy.deepcopy(n) for n in nodes], list(edges)

    def apply(self) -> None:
        for node in self.nodes:
            self.graph.insert_node(copy.deepcopy(node))
        for e in self.edges:
            self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)

    def revert(self) -> None:
        for node in reversed(self.nodes):
            self.graph.remove_node(node.id)


class RemoveItems(GraphCommand):
    """Delete a selection: nodes (with all their edges) and loose edges, as one step."""

    def __init__(self, graph: Graph, node_ids: list[str], edges: list[Edge]):
        for nid in node_ids:
            graph.node(nid)  # raises GraphError for a node that is not there
        if any(e not in graph.edges for e in edges):
            raise GraphError("that connection does not exist")
        n = len(node_ids)
        what = [f"{n} node{'s' if n != 1 else ''}"] if n else []
        loose = [e for e in edges if e.src not in node_ids and e.dst not in node_ids]
        if loose:
            what.append(f"{len(loose)} connection{'s' if len(loose) != 1 else ''}")
        super().__init__(graph, "Delete " + " and ".join(what or ["nothing"]))
        self.node_ids, self.loose = list(node_ids), loose
        self.removed: list[tuple[Node, list[Edge]]] = []

    def apply(self) -> None:
        for e in self.loose:
            self.graph.disconnect(e)
        self.removed = [self.graph.remove_node(nid) for nid in self.node_ids]

    def revert(self) -> None:
        for node, _ in reversed(self.removed):
            self.graph.insert_node(copy.deepcopy(node))
        seen: set[Edge] = set()
        for _, edges in self.removed:
            for e in edges:
                if e not in seen:
                    seen.add(e)
                    self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)
        for e in self.loose:
            self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)


class Connect(GraphCommand):
    """A new edge; `replaces`: edges removed first in the same step (the end picked up from
    another input, the source of the occupied input it is dropped onto)."""

    def __init__(self, graph: Graph, edge: Edge, replaces: Edge | list[Edge] | None = None):
        replaced = [replaces] if isinstance(replaces, Edge) else list(replaces or [])
        for e in replaced:
            if e not in graph.edges:
                raise GraphError("that connection does not exist")
        _checked_connect(graph, edge, replaced)
        super().__init__(graph, "Reconnect" if replaced else "Connect")
        self.edge, self.replaced = edge, replaced

    @property
    def replaces(self) -> Edge | None:
        return self.replaced[0] if self.replaced else None

    def apply(self) -> None:
        for e in self.replaced:
            self.graph.disconnect(e)
        self.graph.connect(self.edge.src, self.edge.src_port, self.edge.dst, self.edge.dst_port)

    def revert(self) -> None:
        self.graph.disconnect(self.edge)
        for e in reversed(self.replaced):
            self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)


class Disconnect(GraphCommand):
    def __init__(self, graph: Graph, edge: Edge):
        if edge not in graph.edges:
            raise GraphError("that connection does not exist")
        super().__init__(graph, "Disconnect")
        self.edge = edge

    def apply(self) -> None:
        self.graph.disconnect(self.edge)

    def revert(self) -> None:
        e = self.edge
        self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)


class MoveNodes(GraphCommand):
    """One step per drag gesture or auto-layout: {node id: (old pos, new pos)}."""

    def __init__(self, graph: Graph, moves: dict[str, tuple[tuple[float, float], tuple[float, float]]],
                 text: str | None = None):
        for nid in moves:
            graph.node(nid)  # raises GraphError for a node that is not there
        n = len(moves)
        super().__init__(graph, text or f"Move {n} node{'s' if n != 1 else ''}")
        self.moves = dict(moves)

    def apply(self) -> None:
        for nid, (_, new) in self.moves.items():
            self.graph.move_node(nid, new)

    def revert(self) -> None:
        for nid, (old, _) in self.moves.items():
            self.graph.move_node(nid, old)


class SetParams(GraphCommand):
    """One parameter on one or several nodes (a multi-selection edit is one step)."""

    def __init__(self, graph: Graph, node_ids: list[str], name: str, value):
        for nid in node_ids:
            node = graph.node(nid)
            if node.spec is None:
                raise GraphError(f"{node.label()}: unknown node type, its parameters cannot "
                                 "be edited")
            value = graph._checked(node.spec, name, value)
        title = graph.nodes[node_ids[0]].title if len(node_ids) == 1 else f"{len(node_ids)} nodes"
        super().__init__(graph, f"Set {name} of {title}")
        self.node_ids, self.name, self.value = list(node_ids), name, value
        self.old: dict[str, object] = {}

    def apply(self) -> None:
        self.old = {nid: self.graph.set_param(nid, self.name, self.value) for nid in self.node_ids}

    def revert(self) -> None:
        for nid in reversed(self.node_ids):
            self.graph.set_param(nid, self.name, self.old[nid])


class SetTitle(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, title: str):
        graph.check_title(node_id, title)
        title = title.strip()
        super().__init__(graph, f"Rename '{graph.nodes[node_id].title}' to '{title}'")
        self.node_id, self.title, self.old = node_id, title, None

    def apply(self) -> None:
        self.old = self.graph.set_title(self.node_id, self.title)

    def revert(self) -> None:
        self.graph.set_title(self.node_id, self.old)



class SetTrainable(GraphCommand):
    """Freeze (False) or unfreeze nodes' weights for fine-tuning; several nodes are one step
    (the inspector's checkbox on a selection, "Freeze up to here", "Unfreeze all")."""

    def __init__(self, graph: Graph, node_ids: list[str], trainable: bool, text: str | None = None):
        for nid in node_ids:
            graph.node(nid)  # raises GraphError for a node that is not there
        if not node_ids:
            raise GraphError("no node to freeze or unfreeze")
        what = (f"'{graph.nodes[node_ids[0]].title}'" if len(node_ids) == 1
                else f"{len(node_ids)} nodes")
        super().__init__(graph, text or f"{'Unfreeze' if trainable else 'Freeze'} {what}")
        self.node_ids, self.trainable = list(node_ids), bool(trainable)
        self.old: dict[str, bool] = {}

    def apply(self) -> None:
        self.old = {nid: self.graph.set_trainable(nid, self.trainable) for nid in self.node_ids}

    def revert(self) -> None:
        for nid in reversed(self.node_ids):
            self.graph.set_trainable(nid, self.old[nid])
