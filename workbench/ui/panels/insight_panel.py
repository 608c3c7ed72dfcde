"""Insight: where gradients vanish or explode, on the canvas and in a per-layer table.

Each step/epoch event carries the L2 norm of every layer node's parameter gradients. Here
they become: a sparkline strip under each node on the canvas (log scale, coloured by state),
and a table with the last/min/max norm, a trend and the state, with a warning line for the
layers whose gradients vanish or explode.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QCheckBox, QGraphicsItem, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.ui import theme
from workbench.ui.editor.items import WIDTH, font

VANISH_ABS = 1e-7        # a norm below this is vanishing whatever the other layers do
VANISH_REL = 1e-4        # ... or below this share of the median layer's norm
EXPLODE_ABS = 1e3        # a norm above this is exploding
EXPLODE_GROWTH = 100.0   # ... or this many times the layer's own early median
HISTORY = 600            # points kept per node (older ones are thinned by half)
STATE_COLOURS = {"ok": "#2e9e5b", "vanishing": "#e0a020", "exploding": "#d9534f", "nan": "#d9534f"}


class NodeGradients:
    def __init__(self):
        self.values: list[float] = []
        self.early: float | None = None
        self.min = math.inf
        self.max = 0.0

    def add(self, v: float) -> None:
        if len(self.values) >= HISTORY:
            self.values = self.values[::2]
        self.values.append(v)
        if math.isfinite(v):
            self.min, self.max = min(self.min, v), max(self.max, v)
        if self.early is None and len(self.values) >= 10:
            finite = [x for x in self.values if math.isfinite(x)]
            self.early = float(np.median(finite)) if finite else None

    @property
    def last(self) -> float:
        return self.values[-1] if self.values else math.nan


class GradientTracker:
    def __init__(self):
        self.nodes: dict[str, NodeGradients] = {}

    def clear(self) -> None:
        self.nodes.clear()

    def add(self, norms: dict[str, float]) -> None:
        for nid, v in norms.items():
            self.nodes.setdefault(nid, NodeGradients()).add(float(v))

    def states(self) -> dict[str, str]:
        lasts = [g.last for g in self.nodes.values() if math.isfinite(g.last) and g.last > 0]
        median = float(np.median(lasts)) if lasts else 0.0
        out = {}
        for nid, g in self.nodes.items():
            v = g.last
            if not math.isfinite(v):
                out[nid] = "nan"
            elif v > EXPLODE_ABS or (g.early and v > EXPLODE_GROWTH * g.early):
                out[nid] = "exploding"
            elif v < VANISH_ABS or (len(lasts) > 1 and v < VANISH_REL * median):
                out[nid] = "vanishing"
            else:
                out[nid] = "ok"
        return out


class GradientStrip(QGraphicsItem):
    """A sparkline of one node's gradient norm (log scale) under the node on the canvas."""
    H = 18

    def __init__(self, parent_item):
        super().__init__(parent_item)
        self.values: list[float] = []
        self.state = "ok"
        self.setPos(0, parent_item.height + 4)
        self.setZValue(-1)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def set_values(self, values: list[float], state: str) -> None:
        self.values, self.state = values, state
        self.setToolTip(f"gradient norm {values[-1]:.3g} ({state})" if values else "")
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, WIDTH, self.H)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.canvas()
        colour = QColor(STATE_COLOURS.get(self.state, "#888888"))
        rect = QRectF(0, 0, WIDTH, self.H)
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setPen(QPen(colour, 1))
        bg = QColor(c.node_body)
        bg.setAlpha(230)
        painter.setBrush(bg)
        painter.drawRoundedRect(rect, 4, 4)
        vals = [math.log10(v) for v in self.values if math.isfinite(v) and v > 0]
        text_w = 64
        if len(vals) >= 2:
            lo, hi = min(vals), max(vals)
            span = (hi - lo) or 1.0
            w = WIDTH - text_w - 10
            path = QPainterPath()
            for i, v in enumerate(vals):
                p = QPointF(4 + w * i / (len(vals) - 1), self.H - 3 - (self.H - 6) * (v - lo) / span)
                path.moveTo(p) if i == 0 else path.lineTo(p)
            painter.setPen(QPen(colour, 1.3))
            painter.setBrush(Qt.NoBrush)
            painter.drawPath(path)
        painter.setFont(font("small"))
        painter.setPen(QColor(c.node_text))
        last = self.values[-1] if self.values else math.nan
        painter.drawText(QRectF(WIDTH - text_w - 4, 0, text_w, self.H), Qt.AlignRight | Qt.AlignVCenter,
                         f"∇ {last:.1e}" if math.isfinite(last) else "∇ NaN")


class InsightPanel(QWidget):
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scene = None
        self.tracker = GradientTracker()
        self.strips: dict[str, GradientStrip] = {}
        self.show_on_canvas = QCheckBox("Show gradient norms on the canvas")
        self.show_on_canvas.setChecked(True)
        self.show_on_canvas.toggled.connect(self._toggle)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #d9534f; font-weight: 600;")
        self.warning.hide()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Layer", "‖∇‖ last", "min", "max", "state"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        note = QLabel("Gradient L2 norm of each layer's parameters, sampled while training. "
                      "Vanishing: below 1e-7 or 1e-4 × the median layer; exploding: above 1e3 "
                      "or 100 × its early value.")
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(placeholder-text);")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.show_on_canvas)
        lay.addWidget(self.warning)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        self.timer = QTimer(self, interval=250)
        self.timer.timeout.connect(self.refresh)
        self._dirty = False
        self.warned: set[str] = set()

    def set_scene(self, scene) -> None:
        self.clear()
        self.scene = scene

    def clear(self) -> None:
        self.tracker.clear()
        for strip in self.strips.values():
            if strip.scene() is not None:
                strip.scene().removeItem(strip)
        self.strips.clear()
        self.table.setRowCount(0)
        self.warning.hide()
        self.warned = set()

    @Slot(object)
    def on_event(self, e) -> None:
        if e.kind == "start":
            self.clear()
            self.timer.start()
        if e.grad_norms:
            self.tracker.add(e.grad_norms)
            self._dirty = True
        if e.kind in ("end", "error", "stopped"):
            self.refresh()
            self.timer.stop()

    @Slot()
    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        states = self.tracker.states()
        graph = self.scene.graph if self.scene is not None and self.scene.document else None
        rows = list(self.tracker.nodes.items())
        self.table.setRowCount(len(rows))
        for r, (nid, g) in enumerate(rows):
            title = graph.nodes[nid].title if graph is not None and nid in graph.nodes else nid
            state = states.get(nid, "ok")
            cells = [title, f"{g.last:.3g}", f"{g.min:.3g}", f"{g.max:.3g}", state]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 4:
                    item.setForeground(QColor(STATE_COLOURS.get(state, "#888888")))
                if 0 < c < 4:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
            self._strip(nid, g, state)
        bad = [(nid, s) for nid, s in states.items() if s != "ok"]
        if bad:
            names = ", ".join(f"'{graph.nodes[n].title if graph and n in graph.nodes else n}' ({s})"
                              for n, s in bad[:4])
            self.warning.setText(f"⚠ gradients: {names}")
            self.warning.show()
            new = {n for n, _ in bad} - self.warned
            if new:
                self.warned |= new
                self.message.emit(f"gradient warning: {names}")
        else:
            self.warning.hide()

    def _strip(self, nid: str, g: NodeGradients, state: str) -> None:
        if self.scene is None or not self.show_on_canvas.isChecked():
            return
        item = self.scene.nodes.get(nid)
        if item is None:
            return
        strip = self.strips.get(nid)
        if strip is None or strip.parentItem() is not item:
            strip = GradientStrip(item)
            self.strips[nid] = strip
        strip.set_values(list(g.values), state)

    @Slot(bool)
    def _toggle(self, on: bool) -> None:
        for strip in self.strips.values():
            strip.setVisible(on)
        if on:
            self._dirty = True
            self.refresh()
