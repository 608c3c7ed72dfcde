"""Insight: where gradients vanish or explode and ReLUs die, on the canvas and in a table.

Each step/epoch event carries the L2 norm of every layer node's parameter gradients, and the
sampled events also each node's activation statistics (mean, std, share of zeros and, for a
ReLU, the share of dead units: see workbench/train/insight.py). Here they become: a
sparkline strip under each node on the canvas (gradient norm on a log scale, or a ReLU's
dead share, coloured by state), and a table with the last/min/max norm, the state and the
activation statistics, with warning lines for the layers whose gradients vanish or explode
and the ReLUs that are mostly dead.
"""
from __future__ import annotations

import math

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QCheckBox, QGraphicsItem, QHeaderView, QLabel, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.ui import theme
from workbench.ui.editor.items import WIDTH, font

from workbench.train.insight import (DEAD_WARN, dead_verdicts, dead_warning,  # the policy
                                     gradient_verdicts)

HISTORY = 600            # points kept per node (older ones are thinned by half)
STATE_COLOURS = {"ok": "#2e9e5b", "vanishing": "#e0a020", "exploding": "#d9534f", "nan": "#d9534f",
                 "dead": "#d9534f"}
COLUMNS = ["Layer", "‖∇‖ last", "min", "max", "act mean", "act std", "zeros", "dead", "state"]
STATE, DEAD = COLUMNS.index("state"), COLUMNS.index("dead")


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
        return gradient_verdicts({nid: g.last for nid, g in self.nodes.items()},
                                 {nid: g.early for nid, g in self.nodes.items()})


class ActivationTracker:
    """The latest activation statistics of each node, and the history of a ReLU's dead share."""

    def __init__(self):
        self.last: dict[str, dict[str, float]] = {}
        self.dead: dict[str, list[float]] = {}

    def clear(self) -> None:
        self.last.clear()
        self.dead.clear()

    def add(self, stats: dict[str, dict[str, float]]) -> None:
        for nid, s in stats.items():
            self.last[nid] = s
            if s.get("dead_frac") is not None:
                values = self.dead.setdefault(nid, [])
                if len(values) >= HISTORY:
                    values[:] = values[::2]
                values.append(float(s["dead_frac"]))

    def dead_nodes(self) -> dict[str, float]:
        """node id -> dead share, for the ReLUs at or above DEAD_WARN now."""
        return dead_verdicts({nid: v[-1] for nid, v in self.dead.items() if v})


def _pct(v) -> str:
    return f"{100 * v:.0f}%" if v is not None and math.isfinite(v) else "—"


def _num(v) -> str:
    return f"{v:.3g}" if v is not None else "—"


class GradientStrip(QGraphicsItem):
    """A sparkline of one node's gradient norm (log scale) under the node on the canvas."""
    H = 18
    LOG = True

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
        if self.LOG:
            vals = [math.log10(v) for v in self.values if math.isfinite(v) and v > 0]
            lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        else:  # a share: always 0..1, so the line's height reads as a level
            vals, lo, hi = [v for v in self.values if math.isfinite(v)], 0.0, 1.0
        text_w = 64
        if len(vals) >= 2:
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
                         self.label(last))

    def label(self, last: float) -> str:
        return f"∇ {last:.1e}" if math.isfinite(last) else "∇ NaN"


class DeadUnitStrip(GradientStrip):
    """Under a ReLU (no parameters, so no gradient): the share of its units that are dead."""
    LOG = False

    def set_values(self, values: list[float], state: str) -> None:
        super().set_values(values, state)
        self.setToolTip(f"{values[-1]:.0%} of the units output 0 for every sample of the "
                        f"sampled batch" if values else "")

    def label(self, last: float) -> str:
        return f"dead {_pct(last)}"


class InsightPanel(QWidget):
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scene = None
        self.tracker = GradientTracker()
        self.acts = ActivationTracker()
        self.order: dict[str, None] = {}    # node ids in the order they first arrived (graph order)
        self.strips: dict[str, GradientStrip] = {}
        self.show_on_canvas = QCheckBox("Show gradient norms and dead ReLU units on the canvas")
        self.show_on_canvas.setChecked(True)
        self.show_on_canvas.toggled.connect(self._toggle)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #d9534f; font-weight: 600;")
        self.warning.hide()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        note = QLabel("Gradient L2 norm of each layer's parameters, sampled while training. "
                      "Vanishing: below 1e-7 or 1e-4 × the median layer; exploding: above 1e3 "
                      "or 100 × its early value. Activations (mean, std, share of zeros) are "
                      "sampled at the same rate; a ReLU unit is dead when it outputs 0 for every "
                      f"sample of the batch (warning from {DEAD_WARN:.0%} of its units).")
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
        self.warned: set = set()   # node ids (gradients) and ("dead", node id) already announced

    def set_scene(self, scene) -> None:
        self.clear()
        self.scene = scene

    def set_document(self, document) -> None:
        """A new document on the canvas: nothing of the last run's insight stays."""
        self.clear()

    def clear(self) -> None:
        self.tracker.clear()
        self.acts.clear()
        self.order.clear()
        for strip in self.strips.values():
            # a strip is a child of its node's item: a new document on the canvas has already
            # deleted it with the node, so only a live one is removed
            if shiboken6.isValid(strip) and strip.scene() is not None:
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
        act_stats = getattr(e, "act_stats", None)
        if act_stats:  # first: they name every module node, in graph order
            self.order.update(dict.fromkeys(act_stats))
            self.acts.add(act_stats)
            self._dirty = True
        if e.grad_norms:
            self.order.update(dict.fromkeys(e.grad_norms))
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
        dead = self.acts.dead_nodes()

        def title(nid: str) -> str:
            return graph.nodes[nid].title if graph is not None and nid in graph.nodes else nid

        rows = list(self.order)
        self.table.setRowCount(len(rows))
        for r, nid in enumerate(rows):
            g = self.tracker.nodes.get(nid)
            a = self.acts.last.get(nid, {})
            state = "dead" if nid in dead else states.get(nid, "ok") if g is not None else "—"
            grads = [f"{g.last:.3g}", f"{g.min:.3g}", f"{g.max:.3g}"] if g is not None else ["—"] * 3
            cells = [title(nid), *grads, _num(a.get("mean")), _num(a.get("std")),
                     _pct(a.get("zero_frac")), _pct(a.get("dead_frac")), state]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == STATE:
                    item.setForeground(QColor(STATE_COLOURS.get(state, "#888888")))
                elif c == DEAD and nid in dead:
                    item.setForeground(QColor(STATE_COLOURS["dead"]))
                if 0 < c < STATE:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
            if g is not None:
                self._strip(nid, GradientStrip, list(g.values), states.get(nid, "ok"))
            elif nid in self.acts.dead:
                self._strip(nid, DeadUnitStrip, self.acts.dead[nid], "dead" if nid in dead else "ok")
        lines, news = [], []
        bad = [(nid, s) for nid, s in states.items() if s != "ok"]
        if bad:
            names = ", ".join(f"'{title(n)}' ({s})" for n, s in bad[:4])
            lines.append(f"⚠ gradients: {names}")
            if {n for n, _ in bad} - self.warned:
                news.append(f"gradient warning: {names}")
            self.warned |= {n for n, _ in bad}
        for nid, share in dead.items():
            kind = graph.nodes[nid].type if graph is not None and nid in graph.nodes else "ReLU"
            text = dead_warning(kind, title(nid), share)
            lines.append(f"⚠ {text}")
            if ("dead", nid) not in self.warned:
                self.warned.add(("dead", nid))
                news.append(text)
        if lines:
            self.warning.setText("\n".join(lines))
            self.warning.show()
            for text in news:
                self.message.emit(text)
        else:
            self.warning.hide()

    def _strip(self, nid: str, kind: type[GradientStrip], values: list[float], state: str) -> None:
        if self.scene is None or not self.show_on_canvas.isChecked():
            return
        item = self.scene.nodes.get(nid)
        if item is None:
            return
        strip = self.strips.get(nid)
        if strip is not None and not shiboken6.isValid(strip):
            strip = None
        if strip is None or strip.parentItem() is not item or type(strip) is not kind:
            if strip is not None and strip.scene() is not None:
                strip.scene().removeItem(strip)
            strip = kind(item)
            self.strips[nid] = strip
        strip.set_values(list(values), state)

    @Slot(bool)
    def _toggle(self, on: bool) -> None:
        for strip in self.strips.values():
            if shiboken6.isValid(strip):
                strip.setVisible(on)
        if on:
            self._dirty = True
            self.refresh()
