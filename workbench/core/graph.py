"""The user's graph: nodes with parameters, typed ports, edges — and nothing about drawing.

Every change goes through a method that first checks the change keeps the graph valid, then
applies it and tells the listeners (the UI scene, the validator), in the order they subscribed.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from workbench.core import catalog
from workbench.core.spec import NodeSpec


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base` with its trailing number replaced by the first free one (fc, fc1, fc2)."""
    if base not in taken:
        return base
    stem = base.rstrip("0123456789") or base
    i = 1
    while f"{stem}{i}" in taken:
        i += 1
    return f"{stem}{i}"


class GraphError(Exception):
    """A change that would make the graph invalid; the message says why, for the user."""


class PortOccupied(GraphError):
    """The input already has its one source, and every other rule allows the connection:
    replacing that source (the editor's drop onto an occupied input) makes it valid."""


class CycleError(GraphError):
    pass


class PortMismatch(GraphError):
    pass


class ParamError(GraphError):
    pass


class GraphFormatError(GraphError):
    """A graph document (project file, clipboard) that cannot be read; `where` is the key path
    inside the graph document (`nodes[0] ('fc').params`), `why` the reason."""

    def __init__(self, where: str, why: str):
        self.where, self.why = where, why
        super().__init__(f"{where}: {why}" if where else why)


@dataclass
class Node:
    id: str
    type: str
    title: str
    params: dict[str, Any]
    pos: tuple[float, float] = (0.0, 0.0)
    # False freezes the node's parameters for fine-tuning (written to the file only then, so
    # projects that never froze anything stay byte-identical)
    trainable: bool = True

    @property
    def spec(self) -> NodeSpec | None:
        return catalog.find(self.type)

    def label(self) -> str:
        return f"{self.type} '{self.title}'"


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: str
    dst: str
    dst_port: str


@dataclass(frozen=True)
class GraphEvent:
    kind: str  # node_added, node_removed, edge_added, edge_removed, param_changed, node_moved, title_changed, trainable_changed
    node_id: str | None = None
    edge: Edge | None = None
    name: str | None = None
    value: Any = None


Listener = Callable[[GraphEvent], None]


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    _listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)

    # -- observing --------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- queries ----------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id '{node_id}'") from None

    def by_title(self, title: str) -> Node:
        for node in self.nodes.values():
            if node.title == title:
                return node
        raise GraphError(f"no node titled '{title}'")

    def edges_into(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def source_of(self, node_id: str, port: str) -> Edge | None:
        return next((e for e in self.edges if e.dst == node_id and e.dst_port == port), None)

    def new_id(self) -> str:
        n = 1 + max((int(i[1:]) for i in self.nodes if i[:1] == "n" and i[1:].isdigit()), default=0)
        return f"n{n}"

    def unique_title(self, base: str) -> str:
        return unique_name(base, {n.title for n in self.nodes.values()})

    def reaches(self, start: str, goal: str) -> bool:
        """True if a directed path leads from `start` to `goal`."""
        following: dict[str, list[str]] = {}
        for e in self.edges:
            following.setdefault(e.src, []).append(e.dst)
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(following.get(current, ()))
        return False

    def order(self) -> tuple[list[str], list[Edge]]:
        """The order of nodes and edges, which undo restores so saved files stay identical."""
        return list(self.nodes), list(self.edges)

    def restore_order(self, order: tuple[list[str], list[Edge]]) -> None:
        """Put the same nodes and edges back in a remembered order (not observable: no event)."""
        node_ids, edges = order
        if set(node_ids) == set(self.nodes):
            self.nodes = {nid: self.nodes[nid] for nid in node_ids}
        if len(edges) == len(self.edges) and set(edges) == set(self.edges):
            self.edges[:] = edges

    def topological_order(self) -> list[str]:
        """Node ids, each after all its sources; raises CycleError naming the loop."""
        indegree = {nid: 0 for nid in self.nodes}
        for e in self.edges:
            indegree[e.dst] += 1
        ready = [nid for nid in self.nodes if indegree[nid] == 0]
        order: list[str] = []
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for e in self.edges:
                if e.src == nid:
                    indegree[e.dst] -= 1
                    if indegree[e.dst] == 0:
                        ready.append(e.dst)
        if len(order) < len(self.nodes):
            stuck = [self.nodes[n].title for n in self.nodes if n not in order]
            raise CycleError("cycle through " + " → ".join(f"'{t}'" for t in stuck))
        return order

    # -- changes ----------------------------------------------------------------------------
    def add_node(self, type: str, title: str | None = None, params: dict | None = None,
                 pos: tuple[float, float] = (0.0, 0.0), id: str | None = None) -> Node:
        node = self.make_node(type, title, params, pos, id)
        self.insert_node(node)
        return node

    def make_node(self, type: str, title: str | None = None, params: dict | None = None,
                  pos: tuple[float, float] = (0.0, 0.0), id: str | None = None) -> Node:
        """The node `add_node` would add, checked but not added (an undo command builds it
        first, so that its redo cannot fail). Raises GraphError for an unknown type."""
        spec = catalog.find(type)
        if spec is None:
            raise GraphError(f"unknown node type '{type}' (is the plugin that provides it "
                             "installed?)")
        node_id = id or self.new_id()
        if node_id in self.nodes:
            raise GraphError(f"a node with id '{node_id}' already exists")
        values = spec.defaults()
        for name, value in (params or {}).items():
            values[name] = self._checked(spec, name, value)
        return Node(node_id, type, title or self.unique_title(spec.default_title), values,
                    (float(pos[0]), float(pos[1])))

    def insert_node(self, node: Node, edges: list[Edge] = ()) -> None:
        """Put back a whole node (undo of a removal, paste) with its edges."""
        if node.id in self.nodes:
            raise GraphError(f"a node with id '{node.id}' already exists")
        self.nodes[node.id] = node
        self._emit(GraphEvent("node_added", node.id))
        for e in edges:
            self.connect(e.src, e.src_port, e.dst, e.dst_port)

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its edges; returns both so that the removal can be undone."""
        node = self.node(node_id)
        touching = [e for e in self.edges if node_id in (e.src, e.dst)]
        for e in touching:
            self.disconnect(e)
        del self.nodes[node_id]
        self._emit(GraphEvent("node_removed", node_id, value=node))
        return node, touching

    def check_connect(self, src: str, src_port: str, dst: str, dst_port: str) -> None:
        """Raise the GraphError that `connect` would raise, without changing anything."""
        a, b = self.node(src), self.node(dst)
        out = a.spec.output(src_port) if a.spec else None
        inp = b.spec.input(dst_port) if b.spec else None
        if out is None:
            raise PortMismatch(f"{a.label()} has no output '{src_port}'")
        if inp is None:
            raise PortMismatch(f"{b.label()} has no input '{dst_port}'")
        if out.kind != inp.kind:
            raise PortMismatch(f"{a.label()} cannot feed {b.label()}: its output '{src_port}' "
                               f"gives a {out.kind}, input '{dst_port}' takes a {inp.kind}")
        if src == dst or self.reaches(dst, src):
            raise CycleError(f"connecting {a.label()} to {b.label()} would make a cycle")
        if any(e.src == src and e.src_port == src_port for e in self.edges_into(dst)
               if e.dst_port == dst_port):
            raise GraphError(f"{a.label()} is already connected to that input")
        taken = None if inp.multiple else self.source_of(dst, dst_port)
        if taken is not None:
            raise PortOccupied(f"input '{dst_port}' of {b.label()} is already connected to "
                               f"'{self.nodes[taken.src].title}'")

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> Edge:
        self.check_connect(src, src_port, dst, dst_port)
        edge = Edge(src, src_port, dst, dst_port)
        self.edges.append(edge)
        self._emit(GraphEvent("edge_added", dst, edge=edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        if edge not in self.edges:
            raise GraphError("that connection does not exist")
        self.edges.remove(edge)
        self._emit(GraphEvent("edge_removed", edge.dst, edge=edge))

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter; returns the previous value (for undo)."""
        node = self.node(node_id)
        if node.spec is None:
            raise ParamError(f"{node.label()}: unknown node type, its parameters cannot be edited")
        value = self._checked(node.spec, name, value)
        old = node.params.get(name)
        node.params[name] = value
        self._emit(GraphEvent("param_changed", node_id, name=name, value=value))
        return old

    def check_title(self, node_id: str, title: str) -> None:
        """Raise the GraphError that `set_title` would raise, without renaming."""
        title = title.strip()
        if not title:
            raise GraphError("a node's title cannot be empty")
        if any(n.title == title and n.id != node_id for n in self.nodes.values()):
            raise GraphError(f"another node is already titled '{title}'")

    def set_title(self, node_id: str, title: str) -> str:
        node = self.node(node_id)
        title = title.strip()
        self.check_title(node_id, title)
        old, node.title = node.title, title
        self._emit(GraphEvent("title_changed", node_id, value=title))
        return old

    def set_trainable(self, node_id: str, trainable: bool) -> bool:
        """Freeze (False) or unfreeze a node; returns the previous value (for undo)."""
        node = self.node(node_id)
        old, node.trainable = node.trainable, bool(trainable)
        self._emit(GraphEvent("trainable_changed", node_id, value=node.trainable))
        return old

    def move_node(self, node_id: str, pos: tuple[float, float]) -> tuple[float, float]:
        node = self.node(node_id)
        old, node.pos = node.pos, (float(pos[0]), float(pos[1]))
        self._emit(GraphEvent("node_moved", node_id, value=node.pos))
        return old

    @staticmethod
    def _checked(spec: NodeSpec, name: str, value: Any) -> Any:
        try:
            param = spec.param(name)
        except KeyError:
            raise ParamError(f"{spec.type} has no parameter '{name}'") from None
        try:
            return param.check(value)
        except ValueError as exc:
            raise ParamError(f"{spec.type}: {exc}") from None

    # -- data -------------------------------------------------------------------------------
    def to_dict(self, node_ids=None) -> dict:
        """The graph as plain JSON data (what project files and the clipboard hold); with
        `node_ids`, only those nodes and the edges between two of them, in graph order."""
        wanted = None if node_ids is None else set(node_ids)
        return {
            "nodes": [{"id": n.id, "type": n.type, "title": n.title,
                       "params": copy.deepcopy(n.params), "pos": [n.pos[0], n.pos[1]],
                       **({} if n.trainable else {"trainable": False})}
                      for n in self.nodes.values() if wanted is None or n.id in wanted],
            "edges": [{"from": [e.src, e.src_port], "to": [e.dst, e.dst_port]} for e in self.edges
                      if wanted is None or (e.src in wanted and e.dst in wanted)],
        }

    @classmethod
    def from_dict(cls, doc: Any, fresh_ids: bool = False, offset: tuple[float, float] = (0, 0),
                  avoid: "Graph | None" = None) -> "Graph":
        """The inverse of `to_dict`, checked against the catalog; raises GraphFormatError.

        Parameters are checked against the node's spec (defaults filled in); parameters and
        node types this version does not know are kept as they are, so a file from another
        version survives a round trip. Edges are checked like `connect` checks them.
        fresh_ids: new ids (n1, n2, …) not used in `avoid`, and titles made unique against
        `avoid` (paste); offset shifts every position.
        """
        if not isinstance(doc, dict):
            raise GraphFormatError("", f"expected an object, got {brief_json(doc)}")
        graph = cls()
        taken_ids = set(avoid.nodes) if avoid is not None else set()
        titles = {n.title for n in avoid.nodes.values()} if avoid is not None else set()
        next_n = 1 + max((int(i[1:]) for i in taken_ids if i[:1] == "n" and i[1:].isdigit()),
                         default=0)
        ids: dict[str, str] = {}
        for i, nd in enumerate(_expect(doc.get("nodes", []), list, "nodes")):
            where = f"nodes[{i}]"
            nd = _expect(nd, dict, where)
            old_id = _expect(nd.get("id"), str, f"{where}.id")
            type_name = _expect(nd.get("type"), str, f"{where}.type")
            type_name = catalog.RENAMES.get(type_name, type_name)
            title = _expect(nd.get("title", old_id), str, f"{where}.title")
            where = f"{where} ('{title}')"
            params = _expect(nd.get("params", {}), dict, f"{where}.params")
            pos = nd.get("pos", [0, 0])
            if (not isinstance(pos, list) or len(pos) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
                raise GraphFormatError(f"{where}.pos", f"expected [x, y], got {brief_json(pos)}")
            trainable = nd.get("trainable", True)
            if not isinstance(trainable, bool):
                raise GraphFormatError(f"{where}.trainable", f"expected true or false, got {brief_json(trainable)}")
            if old_id in ids:
                raise GraphFormatError(where, f"node id '{old_id}' is used twice")
            node_id = old_id
            if fresh_ids:
                node_id, next_n = f"n{next_n}", next_n + 1
                title = unique_name(title, titles)
                titles.add(title)
            ids[old_id] = node_id
            spec = catalog.find(type_name)
            values = dict(params)
            if spec is not None:
                values = spec.defaults()
                for key, value in params.items():
                    try:
                        values[key] = spec.param(key).check(value)
                    except KeyError:
                        values[key] = value  # from another version: kept, ignored
                    except ValueError as exc:
                        raise GraphFormatError(f"{where}.params", str(exc)) from None
            graph.nodes[node_id] = Node(node_id, type_name, title, values,
                                        (pos[0] + offset[0], pos[1] + offset[1]), trainable)
        for i, ed in enumerate(_expect(doc.get("edges", []), list, "edges")):
            where = f"edges[{i}]"
            ed = _expect(ed, dict, where)
            try:
                (src, sp), (dst, dp) = ed["from"], ed["to"]
                assert all(isinstance(v, str) for v in (src, sp, dst, dp))
            except (KeyError, ValueError, TypeError, AssertionError):
                raise GraphFormatError(where, 'expected {"from": [node, port], "to": [node, port]}'
                                       ) from None
            for nid in (src, dst):
                if nid not in ids:
                    raise GraphFormatError(where, f"node '{nid}' does not exist")
            src, dst = ids[src], ids[dst]
            try:
                if graph.nodes[src].spec and graph.nodes[dst].spec:
                    graph.check_connect(src, sp, dst, dp)
            except GraphError as exc:
                raise GraphFormatError(where, str(exc)) from None
            graph.edges.append(Edge(src, sp, dst, dp))
        return graph

    def copy(self) -> "Graph":
        """A deep copy with no listeners."""
        return Graph(copy.deepcopy(self.nodes), list(self.edges))

    def same_as(self, other: "Graph") -> bool:
        return self.to_dict() == other.to_dict()


def brief_json(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _expect(value, kind, where):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {dict: "an object", list: "a list", str: "text", int: "a whole number"}
        raise GraphFormatError(where, f"expected {names.get(kind, kind.__name__)}, got "
                                      f"{brief_json(value)}")
    return value
