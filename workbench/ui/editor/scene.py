"""The canvas scene: a mirror of the document's graph, plus the gestures that edit it.

Model → view: the scene subscribes to the graph's events and creates/removes/updates items.
View → model: gestures (move, connect, disconnect) become commands pushed on the document's
undo stack; the scene then hears about the change like everyone else.
"""
from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from workbench.core.graph import Edge, GraphError, GraphEvent, PortOccupied
from workbench.core.types import format_shape
from workbench.ui import theme
from workbench.ui.editor import commands
from workbench.ui.editor.items import GRID, HEADER, PORT_GAP, WIDTH, DragLine, EdgeItem, NodeItem, PortItem


class _PortDrag:
    def __init__(self, origin: PortItem, detached: Edge | None, line: DragLine):
        self.origin, self.detached, self.line = origin, detached, line
        self.reasons: dict[PortItem, str | None] = {}   # why not (None: allowed)
        self.replaces: dict[PortItem, Edge] = {}       # an occupied input's edge a drop replaces
        self.hover: PortItem | None = None


class EditorScene(QGraphicsScene):
    message = Signal(str)          # for the status bar: refusals, what a drop would do

    def __init__(self, parent=None):
        super().__init__(parent)
        self.document = None
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self.snap_to_grid = False
        self._drag: _PortDrag | None = None
        self._press_positions: dict[str, tuple[float, float]] | None = None
        self.setSceneRect(QRectF(-5000, -5000, 10000, 10000))
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)

    # -- document ---------------------------------------------------------------------------
    def set_document(self, document) -> None:
        if self.document is not None:
            self.document.graph.unsubscribe(self._on_event)
            self.document.analysed.disconnect(self.apply_analysis)
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self.document = document
        graph = document.graph
        for node in graph.nodes.values():
            self._add_node_item(node)
        for edge in graph.edges:
            self._add_edge_item(edge)
        graph.subscribe(self._on_event)
        document.analysed.connect(self.apply_analysis)
        self.apply_analysis(document.analysis)
        self._grow_scene_rect()

    @property
    def graph(self):
        return self.document.graph

    def _add_node_item(self, node) -> NodeItem:
        item = NodeItem(node)
        self.addItem(item)
        self.nodes[node.id] = item
        self._fit_ports(node.id)
        return item

    def _add_edge_item(self, edge: Edge) -> EdgeItem | None:
        a, b = self.nodes.get(edge.src), self.nodes.get(edge.dst)
        src = a.port(edge.src_port, True) if a else None
        dst = b.port(edge.dst_port, False) if b else None
        if src is None or dst is None:
            return None
        item = EdgeItem(edge, src, dst)
        self.addItem(item)
        self.edges[edge] = item
        return item

    def _on_event(self, ev: GraphEvent) -> None:
        kind = ev.kind
        if kind == "node_added":
            item = self._add_node_item(self.graph.nodes[ev.node_id])
            self._grow_scene_rect(item)
        elif kind == "node_removed":
            item = self.nodes.pop(ev.node_id, None)
            if item is not None:
                self.removeItem(item)
        elif kind == "edge_added":
            self._fit_ports(ev.edge.dst)
            self._add_edge_item(ev.edge)
        elif kind == "edge_removed":
            item = self.edges.pop(ev.edge, None)
            if item is not None:
                item.detach()
                self.removeItem(item)
            self._fit_ports(ev.edge.dst)
        elif kind == "node_moved":
            item = self.nodes.get(ev.node_id)
            if item is not None and (item.x(), item.y()) != tuple(ev.value):
                item.setPos(*ev.value)
            if item is not None:
                self._grow_scene_rect(item)
        elif kind in ("param_changed", "title_changed"):
            item = self.nodes.get(ev.node_id)
            if item is not None:
                item.refresh(self.graph.nodes[ev.node_id])
        elif kind == "trainable_changed":
            item = self.nodes.get(ev.node_id)
            if item is not None:
                item.set_frozen(not ev.value)

    def _fit_ports(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.fit_ports({e.dst_port for e in self.graph.edges_into(node_id)})

    def _grow_scene_rect(self, item: NodeItem | None = None) -> None:
        rect = item.sceneBoundingRect() if item is not None else self.itemsBoundingRect()
        if not self.sceneRect().contains(rect.adjusted(-2000, -2000, 2000, 2000)):
            self.setSceneRect(self.sceneRect().united(rect.adjusted(-3000, -3000, 3000, 3000)))

    def apply_analysis(self, analysis) -> None:
        problems: dict[str, list] = {}
        for p in analysis.problems:
            if p.node_id is not None:
                problems.setdefault(p.node_id, []).append(p)
        for nid, item in self.nodes.items():
            outs = analysis.outputs.get(nid, {})
            if len(outs) == 1:
                out_text = format_shape(next(iter(outs.values())).shape)
                t = next(iter(outs.values()))
                if t.dtype == "int64":
                    out_text += " ids"
                if not t.shape:
                    out_text = "scalar"
            elif outs:
                out_text = "  ".join(f"{k}: {format_shape(t.shape)}" for k, t in outs.items())
            else:  # optimizers and schedules pass objects, not tensors
                spec = self.graph.nodes[nid].spec
                kinds = [p.kind for p in spec.outputs] if spec else []
                out_text = ", ".join(k for k in kinds if k != "tensor")
            item.set_analysis(out_text, analysis.params.get(nid), problems.get(nid, []))
        for edge, item in self.edges.items():
            t = analysis.outputs.get(edge.src, {}).get(edge.src_port)
            item.set_label(format_shape(t.shape) if t is not None and t.shape else "")

    # -- selection helpers ------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids) -> None:
        wanted = set(node_ids)
        self.blockSignals(True)
        self.clearSelection()
        for nid in wanted:
            if nid in self.nodes:
                self.nodes[nid].setSelected(True)
        self.blockSignals(False)
        self.selectionChanged.emit()

    # -- moving: one undo step per gesture --------------------------------------------------
    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.LeftButton and self._drag is None:
            self._press_positions = {nid: (item.x(), item.y()) for nid, item in self.nodes.items()
                                     if item.isSelected()}

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        before, self._press_positions = self._press_positions, None
        if not before or self.document is None:
            return
        moves = {}
        for nid, old in before.items():
            item = self.nodes.get(nid)
            if item is None:
                continue
            new = (item.x(), item.y())
            if new != old:
                moves[nid] = (self.graph.nodes[nid].pos, new)
        if moves:
            self.document.push(commands.MoveNodes(self.graph, moves))

    # -- connecting by dragging -------------------------------------------------------------
    def start_port_drag(self, port: PortItem, pos: QPointF) -> None:
        detached = None
        origin = port
        if not port.is_output:
            existing = [e for e in self.graph.edges_into(port.node_id) if e.dst_port == port.name]
            if existing:  # pick up the end of an existing edge: drop elsewhere to re-route/cut
                detached = existing[-1]
                src_item = self.nodes[detached.src].port(detached.src_port, True)
                if src_item is not None:
                    origin = src_item
                    self.edges[detached].setVisible(False)
                else:
                    detached = None
        line = DragLine(origin.scenePos(), origin.is_output)
        self.addItem(line)
        self._drag = _PortDrag(origin, detached, line)
        self._rate_ports()
        line.set_end(pos, None)

    def _rate_ports(self) -> None:
        """Highlight every port the dragged end could go to; dim the others. The verdicts are
        the core's (Graph.check_connect on the graph without the picked-up edge): an occupied
        single input is allowed and offers to replace its edge."""
        drag = self._drag
        origin = drag.origin
        trial = self.graph.copy()
        if drag.detached is not None:
            trial.disconnect(drag.detached)
        for item in self.nodes.values():
            ports = item.inputs if origin.is_output else item.outputs
            for port in ports.values():
                src, dst = (origin, port) if origin.is_output else (port, origin)
                reason = None
                try:
                    trial.check_connect(src.node_id, src.name, dst.node_id, dst.name)
                except PortOccupied:  # the only refusal a replacement resolves
                    drag.replaces[port] = trial.source_of(dst.node_id, dst.name)
                except GraphError as exc:
                    reason = str(exc)
                drag.reasons[port] = reason
                port.set_state("bad" if reason else "ok")

    def _port_at(self, pos: QPointF) -> PortItem | None:
        hits = [i for i in self.items(QRectF(pos.x() - 9, pos.y() - 9, 18, 18))
                if isinstance(i, PortItem) and i in self._drag.reasons]
        if not hits:
            return None
        return min(hits, key=lambda p: (p.scenePos() - pos).manhattanLength())

    def update_port_drag(self, pos: QPointF) -> None:
        drag = self._drag
        if drag is None:
            return
        port = self._port_at(pos)
        state = None
        if port is not None:
            reason = drag.reasons[port]
            state = "bad" if reason else "ok"
            end = port.scenePos()
            if port is not drag.hover:
                self.message.emit(reason or self._offer(drag, port))
        else:
            end = pos
            if drag.hover is not None:
                self.message.emit("release on empty canvas to disconnect" if drag.detached else "")
        drag.hover = port
        drag.line.set_end(end, state)

    def _offer(self, drag: _PortDrag, port: PortItem) -> str:
        title = self.graph.nodes[port.node_id].title
        old = drag.replaces.get(port)
        if old is not None:
            return (f"release to replace '{self.graph.nodes[old.src].title}' → '{port.name}' of "
                    f"'{title}'")
        return f"release to connect to '{port.name}' of '{title}'"

    def finish_port_drag(self, pos: QPointF) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        try:
            target_port = self._port_at_for(drag, pos)
            self.removeItem(drag.line)
            for port in drag.reasons:
                port.set_state(None)
            if drag.detached is not None and drag.detached in self.edges:
                self.edges[drag.detached].setVisible(True)
            if target_port is None:
                if drag.detached is not None:
                    self.document.push(commands.Disconnect(self.graph, drag.detached))
                    self.message.emit("disconnected")
                return
            origin = drag.origin
            src, dst = (origin, target_port) if origin.is_output else (target_port, origin)
            target = Edge(src.node_id, src.name, dst.node_id, dst.name)
            if target == drag.detached:
                return
            reason = drag.reasons.get(target_port)
            if reason:
                self.message.emit(f"not connected: {reason}")
                return
            replaced = [e for e in (drag.detached, drag.replaces.get(target_port)) if e]
            try:  # the command checks once more against the graph as it is now
                command = commands.Connect(self.graph, target, replaced)
            except GraphError as exc:
                self.message.emit(f"not connected: {exc}")
                return
            self.document.push(command)
            old = drag.replaces.get(target_port)
            what = f", replacing '{self.graph.nodes[old.src].title}'" if old else ""
            self.message.emit(f"connected '{self.graph.nodes[target.src].title}' → "
                              f"'{self.graph.nodes[target.dst].title}'{what}")
        finally:
            self._press_positions = None

    def _port_at_for(self, drag: _PortDrag, pos: QPointF) -> PortItem | None:
        self._drag = drag
        try:
            return self._port_at(pos)
        finally:
            self._drag = None

    def cancel_port_drag(self) -> None:
        if self._drag is not None:
            drag, self._drag = self._drag, None
            self.removeItem(drag.line)
            for port in drag.reasons:
                port.set_state(None)
            if drag.detached is not None and drag.detached in self.edges:
                self.edges[drag.detached].setVisible(True)

    # -- adding nodes -----------------------------------------------------------------------
    def add_node(self, type_name: str, at: QPointF, free: bool = False) -> str | None:
        """Add a node with its header centred at `at` (a palette drop, a menu entry) as one
        undo step; dropped onto a connection, it is inserted into it. free: first move away
        from the nodes already there (a double-clicked palette entry). Returns its id, or None
        with the reason in `message`."""
        if free:
            at = self.free_spot(at)
        x, y = at.x() - WIDTH / 2, at.y() - 20
        if self.snap_to_grid:
            x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
        edge = None if free else self.edge_at(at)
        try:
            command = commands.AddNode(self.graph, type_name, (x, y))
            if edge is not None:
                try:
                    command = commands.SpliceNode(self.graph, type_name, (x, y), edge)
                except GraphError:
                    edge = None  # it does not fit into that connection: just add it
                else:  # its input port on the connection, so that it stays a straight line
                    port = command.edges[0].dst_port
                    row = [p.name for p in command.node.spec.inputs].index(port)
                    y = at.y() - (HEADER + PORT_GAP * (row + 0.5) + 4)
                    if not self.is_free(QPointF(x + WIDTH / 2, y + 20)):
                        # between two close nodes it would hide both: the nearest free place
                        spot = self.free_spot(at)
                        x, y = spot.x() - WIDTH / 2, spot.y() - 20
                        if self.snap_to_grid:
                            x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
                    command.node.pos = (x, y)
        except GraphError as exc:
            self.message.emit(str(exc))
            return None
        self.document.push(command)
        node = command.node
        self.select_nodes([node.id])
        if edge is not None:
            self.message.emit(f"inserted {type_name} '{node.title}' between "
                              f"'{self.graph.nodes[edge.src].title}' and "
                              f"'{self.graph.nodes[edge.dst].title}'")
        else:
            self.message.emit(f"added {type_name} '{node.title}'")
        return node.id

    def edge_at(self, pos: QPointF) -> Edge | None:
        """The connection under a scene point (within a few pixels), if no node is there."""
        hits = self.items(QRectF(pos.x() - 6, pos.y() - 6, 12, 12))
        if any(isinstance(i, (NodeItem, PortItem)) for i in hits):
            return None
        edges = [i for i in hits if isinstance(i, EdgeItem) and i.isVisible()]
        return edges[0].edge if edges else None

    def free_spot(self, at: QPointF) -> QPointF:
        """`at`, or the nearest free place below it (then in the columns to its right) where a
        new node would cover no other."""
        for column in range(8):
            for row in range(8):
                pos = at + QPointF(column * (WIDTH + 2 * GRID), row * 6 * GRID)
                if self.is_free(pos):
                    return pos
        return at

    def is_free(self, at: QPointF) -> bool:
        """Whether a new node with its header centred at `at` would cover no other."""
        rect = QRectF(at.x() - WIDTH / 2 - GRID / 2, at.y() - 20 - GRID / 2,
                      WIDTH + GRID, 5 * GRID)
        return not any(isinstance(i, NodeItem) for i in self.items(rect))

    # -- background -------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        c = theme.canvas()
        painter.fillRect(rect, QColor(c.background))
        scale = painter.worldTransform().m11()
        if scale < 0.35:
            return
        step = GRID
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / step) % 5 == 0 else minor).append((x, True))
            x += step
        y = top
        while y < rect.bottom():
            (major if round(y / step) % 5 == 0 else minor).append((y, False))
            y += step
        for lines, colour in ((minor, c.grid), (major, c.grid_major)):
            painter.setPen(QPen(QColor(colour), 0))
            segments = [QLineF(v, rect.top(), v, rect.bottom()) if vertical
                        else QLineF(rect.left(), v, rect.right(), v) for v, vertical in lines]
            if segments:
                painter.drawLines(segments)  # one call: many drawLine calls are slow in Python

