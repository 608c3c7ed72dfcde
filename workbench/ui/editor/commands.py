"""Undoable commands: each redo/undo calls the core Graph's methods and nothing else.

The scene never changes in a command; it mirrors the graph through the graph's events.
Undo restores the graph exactly, including the order of nodes and edges (so a project saved
after undo is byte-identical to one saved before the edit).
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

    def redo(self) -> None:
        self._before = self.graph.order()
        self.apply()

    def undo(self) -> None:
        self.revert()
        if self._before is not None:
            self.graph.restore_order(self._before)

    def apply(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def revert(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class AddNode(GraphCommand):
    def __init__(self, graph: Graph, type_name: str, pos: tuple[float, float],
                 params: dict | None = None, title: str | None = None):
        super().__init__(graph, f"Add {type_name}")
        self.type_name, self.pos, self.params, self.title = type_name, pos, params, title
        self.node: Node | None = None

    def apply(self) -> None:
        if self.node is None:
            self.node = copy.deepcopy(self.graph.add_node(self.type_name, self.title, self.params,
                                                          self.pos))
        else:
            self.graph.insert_node(copy.deepcopy(self.node))

    def revert(self) -> None:
        self.graph.remove_node(self.node.id)


class InsertNodes(GraphCommand):
    """Paste / duplicate: whole nodes with fresh ids and the edges between them."""

    def __init__(self, graph: Graph, nodes: list[Node], edges: list[Edge], text: str = "Paste"):
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
        n, m = len(node_ids), len(edges)
        what = [f"{n} node{'s' if n != 1 else ''}"] if n else []
        loose = [e for e in edges if e.src not in node_ids and e.dst not in node_ids]
        if loose:
            what.append(f"{len(loose)} connection{'s' if len(loose) != 1 else ''}")
        super().__init__(graph, "Delete " + " and ".join(what or ["nothing"]))
        self.node_ids, self.loose = list(node_ids), loose
        self.removed: list[tuple[Node, list[Edge]]] = []
        del m

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
    def __init__(self, graph: Graph, edge: Edge, replaces: Edge | None = None):
        super().__init__(graph, "Reconnect" if replaces else "Connect")
        self.edge, self.replaces = edge, replaces

    def apply(self) -> None:
        if self.replaces is not None:
            self.graph.disconnect(self.replaces)
        self.graph.connect(self.edge.src, self.edge.src_port, self.edge.dst, self.edge.dst_port)

    def revert(self) -> None:
        self.graph.disconnect(self.edge)
        if self.replaces is not None:
            e = self.replaces
            self.graph.connect(e.src, e.src_port, e.dst, e.dst_port)


class Disconnect(GraphCommand):
    def __init__(self, graph: Graph, edge: Edge):
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
        super().__init__(graph, f"Rename '{graph.nodes[node_id].title}' to '{title}'")
        self.node_id, self.title, self.old = node_id, title, None

    def apply(self) -> None:
        self.old = self.graph.set_title(self.node_id, self.title)

    def revert(self) -> None:
        self.graph.set_title(self.node_id, self.old)


def check_title(graph: Graph, node_id: str, title: str) -> str | None:
    """The reason a title would be refused, or None."""
    try:
        graph.check_title(node_id, title)
    except GraphError as exc:
        return str(exc)
    return None
