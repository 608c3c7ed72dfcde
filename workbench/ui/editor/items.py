"""What the canvas draws: nodes (with their ports and problem badge) and edges.

Items are made from the core model by the scene and hold only ids; they never change the
model. A node draws itself in one paint call (fast with hundreds of nodes) and leaves out the
small text when zoomed far out. A frozen node (not trainable) has a muted header and a
snowflake; an Opaque node (an imported op without a catalog node) a grey, hatched body and its
op under the title.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath,
                           QPainterPathStroker, QPen)
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem

from workbench.core.graph import Edge, Node
from workbench.core.opaque import ports_read as opaque_ports_read
from workbench.ui import theme

WIDTH = 180.0
HEADER = 40.0
PORT_GAP = 20.0
INFO = 36.0
PORT_R = 6.0
GRID = 20.0
OPAQUE = "Opaque"            # the imported node that runs what the catalog cannot express
OPAQUE_HEADER = "#6e7178"
FROZEN_GREY = "#60646c"

_fonts: dict[str, QFont] = {}


def font(kind: str) -> QFont:
    if kind not in _fonts:
        f = QFont()
        if kind == "title":
            f.setPointSizeF(9.5)
            f.setBold(True)
        elif kind == "small":
            f.setPointSizeF(7.5)
        elif kind == "badge":
            f.setPointSizeF(8)
            f.setBold(True)
        else:
            f.setPointSizeF(8.5)
        _fonts[kind] = f
    return _fonts[kind]


_header: list[QPainterPath] = []


def _header_path() -> QPainterPath:
    """The coloured header with rounded top corners (the same for every node: made once)."""
    if not _header:
        header = QPainterPath()
        header.setFillRule(Qt.WindingFill)
        header.addRoundedRect(QRectF(0, 0, WIDTH, HEADER), 6, 6)
        header.addRect(QRectF(0, HEADER - 8, WIDTH, 8))
        _header.append(header.simplified())
    return _header[0]


_metrics: dict[str, QFontMetricsF] = {}


def metrics(kind: str) -> QFontMetricsF:
    if kind not in _metrics:
        _metrics[kind] = QFontMetricsF(font(kind))
    return _metrics[kind]


def lod(painter: QPainter) -> float:
    return QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())


class PortItem(QGraphicsItem):
    """A connection point. Press-drag from it to connect (the scene runs the gesture)."""

    def __init__(self, node_item: "NodeItem", name: str, kind: str, is_output: bool,
                 optional: bool, help: str = ""):
        super().__init__(node_item)
        self.node_item, self.name, self.kind = node_item, name, kind
        self.is_output, self.optional = is_output, optional
        self.state: str | None = None  # None, "ok", "bad", "hover"
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(2)
        direction = "output" if is_output else "input"
        extra = " (optional)" if optional else ""
        self.setToolTip(f"{direction} '{name}' · {kind}{extra}" + (f"\n{help}" if help else ""))

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        r = PORT_R + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.state is None and lod(painter) < 0.35:
            return  # too small to see or hit: the node's colour block is enough
        c = theme.canvas()
        colour = QColor(theme.PORT_COLOURS.get(self.kind, "#888"))
        r = PORT_R
        pen = QPen(QColor(c.node_body), 1.5)
        if self.state == "ok":
            r += 2
            pen = QPen(QColor(c.ok), 3)
        elif self.state == "bad":
            colour.setAlpha(70)
        elif self.state == "hover":
            r += 2
        painter.setPen(pen)
        painter.setBrush(colour if not (self.optional and self.state is None) else QColor(c.node_body))
        if self.optional and self.state is None:
            painter.setPen(QPen(colour, 2))
        if self.kind == "tensor":
            painter.drawEllipse(QPointF(0, 0), r, r)
        else:  # loss / optimizer ports are diamonds, so kinds read apart at a glance
            path = QPainterPath(QPointF(0, -r - 1))
            path.lineTo(r + 1, 0)
            path.lineTo(0, r + 1)
            path.lineTo(-r - 1, 0)
            path.closeSubpath()
            painter.drawPath(path)

    def hoverEnterEvent(self, event) -> None:
        if self.state is None:
            self.set_state("hover")

    def hoverLeaveEvent(self, event) -> None:
        if self.state == "hover":
            self.set_state(None)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.scene() is not None:
            self.scene().start_port_drag(self, event.scenePos())
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.scene().update_port_drag(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        self.scene().finish_port_drag(event.scenePos())


class BadgeItem(QGraphicsItem):
    """The problem marker in a node's corner; its tooltip lists the problems."""

    def __init__(self, parent: "NodeItem"):
        super().__init__(parent)
        self.severity = "error"
        self.count = 0
        self.setZValue(3)
        self.setVisible(False)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:
        return QRectF(-10, -10, 20, 20)

    def set_problems(self, problems: list) -> None:
        self.count = len(problems)
        self.setVisible(bool(problems))
        if problems:
            errors = [p for p in problems if p.severity == "error"]
            self.severity = "error" if errors else "warning"
            self.setToolTip("\n".join(f"• {p.message}" for p in problems))
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.canvas()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor(c.node_body), 2))
        painter.setBrush(QColor(c.bad if self.severity == "error" else c.warning))
        painter.drawEllipse(QPointF(0, 0), 9, 9)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(font("badge"))
        painter.drawText(QRectF(-9, -9, 18, 18), Qt.AlignCenter,
                         "!" if self.count <= 1 else str(min(self.count, 9)))


class NodeItem(QGraphicsItem):
    def __init__(self, node: Node):
        super().__init__()
        self.node_id = node.id
        self.title, self.type_name = node.title, node.type
        spec = node.spec
        self.category = spec.category if spec else "Unknown"
        self.colour = theme.category_colour(self.category) if spec else QColor("#888888")
        self.unknown = spec is None
        self.frozen = not node.trainable   # weights kept fixed when training (fine-tuning)
        self.opaque = node.type == OPAQUE  # imported, runs the original op: drawn apart
        if self.opaque:
            self.colour = QColor(OPAQUE_HEADER)
        self.out_text = ""     # inferred output shape(s)
        self.params_text = ""  # trainable parameter count
        self.param_summary = self._param_summary(node)
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        ins = spec.inputs if spec else ()
        if self.opaque:   # an imported op has a fixed number of inputs: no spare ports shown
            ins = ins[:opaque_ports_read(node.params)]
        outs = spec.outputs if spec else ()
        for i, p in enumerate(ins):
            port = PortItem(self, p.name, p.kind, False, p.optional, p.help)
            port.setPos(0, HEADER + PORT_GAP * (i + 0.5) + 4)
            self.inputs[p.name] = port
        for i, p in enumerate(outs):
            port = PortItem(self, p.name, p.kind, True, p.optional, p.help)
            port.setPos(WIDTH, HEADER + PORT_GAP * (i + 0.5) + 4)
            self.outputs[p.name] = port
        rows = max(len(ins), len(outs), 1)
        self.height = HEADER + rows * PORT_GAP + 8 + INFO
        # a merge with many optional inputs (Add a..h) shows those in use and one spare
        self._growing = not self.opaque and sum(p.optional for p in ins) >= 3
        self.fit_ports(set())
        self.badge = BadgeItem(self)
        self.badge.setPos(WIDTH - 2, 2)
        self.edges: list["EdgeItem"] = []
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.NoCache)
        self.setZValue(1)
        self.setPos(*node.pos)
        self.reason = str(node.params.get("reason") or "") if self.opaque else ""
        self.source = str(node.params.get("source") or "") if self.opaque else ""
        self._tooltip()

    @staticmethod
    def _param_summary(node: Node) -> str:
        spec = node.spec
        if node.type == OPAQUE:
            return str(node.params.get("op") or "")
        if spec is None or not spec.params:
            return ""
        first = spec.params[0]
        value = node.params.get(first.name)
        return f"{first.name} = {value}" if value not in ("", None) else ""

    def _tooltip(self) -> None:
        spec_help = ""
        from workbench.core import catalog
        spec = catalog.find(self.type_name)
        if spec:
            spec_help = spec.help
        lines = [f"{self.title} · {self.type_name}", spec_help]
        if self.opaque:
            lines[1:] = [f"op: {self.param_summary}" if self.param_summary else "",
                         f"opaque: {self.reason}" if self.reason else "",
                         "it runs the imported operation as it is; its weights (if any) stay fixed"
                         if self.source == "onnx" else "it runs the imported operation as it is"]
        if self.unknown:
            lines.append("unknown node type: is the plugin that provides it installed?")
        if self.frozen:
            lines.append("frozen: training leaves its weights as they are")
        # rich text, every line escaped: a title or an imported reason like "<b>x</b>" is
        # shown as typed (Qt would guess plain text into markup otherwise)
        self.setToolTip("<qt>" + "<br>".join(escape(line) for line in lines if line) + "</qt>")

    # -- model → item -----------------------------------------------------------------------
    def refresh(self, node: Node) -> None:
        self.title = node.title
        self.reason = str(node.params.get("reason") or "") if self.opaque else ""
        self.source = str(node.params.get("source") or "") if self.opaque else ""
        self.param_summary = self._param_summary(node)
        self._tooltip()
        self.update()

    def set_frozen(self, frozen: bool) -> None:
        if frozen != self.frozen:
            self.frozen = frozen
            self._tooltip()
            self.update()

    def header_colour(self) -> QColor:
        """The category colour; a frozen node's muted towards grey, so it reads as fixed."""
        if not self.frozen:
            return self.colour
        grey = QColor(FROZEN_GREY)   # the same in both themes: white text stays readable
        c = self.colour
        return QColor((c.red() + 2 * grey.red()) // 3, (c.green() + 2 * grey.green()) // 3,
                      (c.blue() + 2 * grey.blue()) // 3)

    def set_analysis(self, out_text: str, params: int | None, problems: list) -> None:
        params_text = "" if params is None else (f"{params:,} params" if params else "no weights")
        if (out_text, params_text) != (self.out_text, self.params_text):
            self.out_text, self.params_text = out_text, params_text
            self.update()
        self.badge.set_problems(problems)

    def fit_ports(self, connected: set[str]) -> None:
        """Show the required and `connected` inputs and the first free one after them; the
        node is as tall as what it shows (the scene calls this as edges come and go)."""
        if not self._growing:
            return
        ports = list(self.inputs.values())
        last = max((i for i, p in enumerate(ports) if not p.optional or p.name in connected), default=-1)
        shown = min(len(ports), last + 2)
        for i, port in enumerate(ports):
            port.setVisible(i < shown)
        height = HEADER + max(shown, len(self.outputs), 1) * PORT_GAP + 8 + INFO
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height
            self.update()

    def port(self, name: str, output: bool) -> PortItem | None:
        return (self.outputs if output else self.inputs).get(name)

    # -- geometry / drawing -----------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_R - 4, -4, WIDTH + 2 * PORT_R + 8, self.height + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, WIDTH, self.height), 6, 6)
        return path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.canvas()
        selected = bool(option.state & QStyle.State_Selected)
        rect = QRectF(0, 0, WIDTH, self.height)
        detail = lod(painter)
        if detail < 0.35:  # far out: plain colour blocks, no text
            painter.setPen(QPen(QColor(c.selection), 3) if selected else Qt.NoPen)
            painter.setBrush(QColor(c.node_body))
            painter.drawRect(rect)
            painter.fillRect(QRectF(0, 0, WIDTH, HEADER), self.header_colour())
            return
        painter.setRenderHint(QPainter.Antialiasing, True)
        border = QPen(QColor(c.selection), 2.5) if selected else QPen(QColor(c.node_border), 1)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(c.node_body))
        painter.drawRoundedRect(rect, 6, 6)
        if self.opaque:   # a grey, hatched body: it is not a layer of the catalog
            hatch = QColor(c.node_subtle)
            hatch.setAlpha(70)
            painter.setBrush(QBrush(hatch, Qt.BDiagPattern))
            painter.drawRoundedRect(rect, 6, 6)
        painter.setBrush(self.header_colour())
        painter.drawPath(_header_path())
        painter.setPen(border)  # the outline last, over the header's corners
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(font("title"))
        fm = metrics("title")
        room = WIDTH - (50 if self.frozen else 34)
        painter.drawText(QRectF(10, 3, room, 19), Qt.AlignLeft | Qt.AlignVCenter,
                         fm.elidedText(self.title, Qt.ElideRight, room))
        if self.frozen:
            snowflake(painter, QPointF(WIDTH - 28, 12), 7, QColor("#ffffff"))
        painter.setFont(font("small"))
        sub = self.type_name + (f" · {self.param_summary}" if self.param_summary else "")
        if self.opaque:   # its op is what it is: the end of a dotted name says the most
            sub = self.param_summary or self.type_name
        painter.setPen(QColor(255, 255, 255, 215))
        fs = metrics("small")
        painter.drawText(QRectF(10, 21, WIDTH - 20, 15), Qt.AlignLeft | Qt.AlignVCenter,
                         fs.elidedText(sub, Qt.ElideLeft if self.opaque else Qt.ElideRight,
                                       WIDTH - 20))
        painter.setPen(QColor(c.node_subtle))
        for name, port in self.inputs.items():
            if not port.isVisible():
                continue
            painter.drawText(QRectF(12, port.y() - 8, WIDTH / 2 - 12, 16),
                             Qt.AlignLeft | Qt.AlignVCenter, name)
        for name, port in self.outputs.items():
            painter.drawText(QRectF(WIDTH / 2, port.y() - 8, WIDTH / 2 - 12, 16),
                             Qt.AlignRight | Qt.AlignVCenter, name)
        y = self.height - INFO
        painter.setPen(QPen(QColor(c.node_border), 0.8))
        painter.drawLine(QPointF(8, y - 2), QPointF(WIDTH - 8, y - 2))
        painter.setFont(font("text"))
        fm = metrics("text")
        painter.setPen(QColor(c.node_text))
        shape = f"→ {self.out_text}" if self.out_text else "→ ?"
        painter.drawText(QRectF(10, y, WIDTH - 20, 17), Qt.AlignLeft | Qt.AlignVCenter,
                         fm.elidedText(shape, Qt.ElideMiddle, WIDTH - 20))
        painter.setPen(QColor(c.node_subtle))
        painter.setFont(font("small"))
        painter.drawText(QRectF(10, y + 16, WIDTH - 20, 15), Qt.AlignLeft | Qt.AlignVCenter,
                         self.params_text + (" · frozen" if self.frozen else ""))

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionChange and self.scene() is not None \
                and getattr(self.scene(), "snap_to_grid", False):
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)


class EdgeItem(QGraphicsItem):
    """A connection, drawn as a curve from an output port to an input port, with the shape
    of the tensor it carries written at its middle."""

    def __init__(self, edge: Edge, src: PortItem, dst: PortItem):
        super().__init__()
        self.edge, self.src, self.dst = edge, src, dst
        self.label = ""
        self.kind = src.kind
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._rect = QRectF()
        src.node_item.edges.append(self)
        dst.node_item.edges.append(self)
        self.update_path()

    def detach(self) -> None:
        for port in (self.src, self.dst):
            if self in port.node_item.edges:
                port.node_item.edges.remove(self)

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.prepareGeometryChange()
            self.label = text
            self._rect = self._bounds()
            self.update()

    def update_path(self) -> None:
        self.prepareGeometryChange()
        self._path = curve(self.src.scenePos(), self.dst.scenePos())
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        self._shape = stroker.createStroke(self._path)
        self._rect = self._bounds()

    def _bounds(self) -> QRectF:
        rect = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        if self.label:
            mid = self._path.pointAtPercent(0.5)
            rect = rect.united(QRectF(mid.x() - 70, mid.y() - 10, 140, 20))
        return rect

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self) -> QPainterPath:
        return self._shape

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.canvas()
        detail = lod(painter)
        painter.setRenderHint(QPainter.Antialiasing, detail > 0.3)
        selected = bool(option.state & QStyle.State_Selected)
        colour = QColor(c.selection) if selected else QColor(
            c.edge if self.kind == "tensor" else theme.PORT_COLOURS.get(self.kind, c.edge))
        painter.setPen(QPen(colour, 2.5 if selected else 1.6))
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        room = min(self.dst.scenePos().x() - self.src.scenePos().x() - 2 * PORT_R - 6, 140)
        if self.label and detail > 0.5 and room > 34:
            mid = self._path.pointAtPercent(0.5)
            painter.setFont(font("small"))
            fm = metrics("small")
            w = min(fm.horizontalAdvance(self.label) + 10, room)
            box = QRectF(mid.x() - w / 2, mid.y() - 8, w, 16)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(c.edge_label_bg))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(c.edge_label))
            painter.drawText(box, Qt.AlignCenter, fm.elidedText(self.label, Qt.ElideMiddle, w - 6))


def snowflake(painter: QPainter, at: QPointF, r: float, colour: QColor) -> None:
    """The frozen mark: six spokes with a small V near each tip, drawn with lines (a ❄ glyph
    is missing from many fonts)."""
    import math
    painter.save()
    painter.setPen(QPen(colour, 1.4, Qt.SolidLine, Qt.RoundCap))
    for k in range(6):
        a = math.pi / 3 * k + math.pi / 2
        dx, dy = math.cos(a), -math.sin(a)
        tip = QPointF(at.x() + r * dx, at.y() + r * dy)
        painter.drawLine(at, tip)
        base = QPointF(at.x() + 0.55 * r * dx, at.y() + 0.55 * r * dy)
        for side in (-1, 1):
            b = a + side * math.pi / 4
            painter.drawLine(base, QPointF(base.x() + 0.35 * r * math.cos(b),
                                           base.y() - 0.35 * r * math.sin(b)))
    painter.restore()


def curve(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath(a)
    dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


class DragLine(QGraphicsItem):
    """The rubber connection drawn while dragging from a port."""

    def __init__(self, fixed: QPointF, fixed_is_output: bool):
        super().__init__()
        self.fixed, self.fixed_is_output = fixed, fixed_is_output
        self.end = fixed
        self.state: str | None = None
        self.setZValue(5)
        self._path = QPainterPath()

    def set_end(self, end: QPointF, state: str | None) -> None:
        self.prepareGeometryChange()
        self.end, self.state = end, state
        a, b = (self.fixed, end) if self.fixed_is_output else (end, self.fixed)
        self._path = curve(a, b)

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.canvas()
        colour = {"ok": c.ok, "bad": c.bad}.get(self.state, c.selection)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor(colour), 2, Qt.DashLine))
        painter.drawPath(self._path)
