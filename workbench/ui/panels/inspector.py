"""The inspector: a form generated from the selected node's spec.

Each committed change is one undoable command; a value the spec refuses is not applied, the
field goes back to the node's value and the reason is shown under the form. With several
nodes selected, the parameters they have in common are shown and a change applies to all.
"""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                               QLabel, QLineEdit, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from workbench.core.graph import GraphError
from workbench.core.types import format_shape
from workbench.ui import theme
from workbench.ui.editor import commands
from workbench.ui.panels.focus_wheel import wheel_when_focused

INT_LIMIT = 2**31 - 1


class FloatSpin(QDoubleSpinBox):
    """A spin box that shows floats compactly (0.001, 1e-05) instead of fixed decimals."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(12)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        t = text.strip().replace(",", ".")
        if t in ("", "-", ".", "-.") or t.lower().endswith(("e", "e-", "e+")):
            return QValidator.Intermediate, text, pos
        try:
            v = float(t)
        except ValueError:
            return QValidator.Invalid, text, pos
        if self.minimum() <= v <= self.maximum():
            return QValidator.Acceptable, text, pos
        return QValidator.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        v = self.value()
        step = 10 ** math.floor(math.log10(abs(v))) / 10 if v else 0.1
        self.setValue(v + steps * step)


class Inspector(QWidget):
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.document = None
        self.node_ids: list[str] = []
        self.fields: dict[str, QWidget] = {}
        self._loading = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setFrameShape(QFrame.NoFrame)
        outer.addWidget(scroll)
        self.body = QWidget()
        scroll.setWidget(self.body)
        self.layout_ = QVBoxLayout(self.body)
        self.layout_.setContentsMargins(8, 8, 8, 8)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.RichText)
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setEnabled(False)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 4, 0, 4)
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.LIGHT.bad}; font-weight: bold")
        self.error.hide()
        self.shapes = QLabel()
        self.shapes.setWordWrap(True)
        self.shapes.setTextFormat(Qt.RichText)
        self.shapes.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.heading, self.help, self.form_host, self.error, self.shapes):
            self.layout_.addWidget(w)
        self.layout_.addStretch(1)
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.refresh_values)
        self.show_nodes([])

    # -- wiring -----------------------------------------------------------------------------
    def set_document(self, document) -> None:
        if self.document is not None:
            self.document.graph.unsubscribe(self._on_event)
            self.document.analysed.disconnect(self._on_analysis)
        self.document = document
        document.graph.subscribe(self._on_event)
        document.analysed.connect(self._on_analysis)
        self.show_nodes([])

    def _on_event(self, ev) -> None:
        if ev.kind in ("param_changed", "title_changed") and ev.node_id in self.node_ids:
            self._refresh_timer.start()
        elif ev.kind == "node_removed" and ev.node_id in self.node_ids:
            self.node_ids = [n for n in self.node_ids if n != ev.node_id]
            self._refresh_timer.start()

    def _on_analysis(self, analysis) -> None:
        self._show_shapes()

    # -- building the form ------------------------------------------------------------------
    def show_nodes(self, node_ids: list[str]) -> None:
        graph = self.document.graph if self.document else None
        self.node_ids = [n for n in node_ids if graph is not None and n in graph.nodes]
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        self.error.hide()
        nodes = [graph.nodes[n] for n in self.node_ids]
        if not nodes:
            self.heading.setText("<b>Nothing selected</b>")
            self.help.setText("Select a node on the canvas to edit its parameters. Add nodes "
                              "from the palette: drag one onto the canvas, or double-click it.")
            self.shapes.setText("")
            return
        specs = [n.spec for n in nodes]
        if len(nodes) == 1:
            node, spec = nodes[0], specs[0]
            self.heading.setText(f"<b>{node.title}</b> &nbsp;<span>{node.type}"
                                 f"{' · ' + spec.category if spec else ''}</span>")
            self.help.setText(spec.help if spec else "Unknown node type.")
            title = QLineEdit(node.title)
            title.setObjectName("title")
            title.editingFinished.connect(lambda w=title: self._commit_title(w))
            self.fields["__title__"] = title
            self.form.addRow("title", title)
        else:
            types = sorted({n.type for n in nodes})
            self.heading.setText(f"<b>{len(nodes)} nodes</b> &nbsp;{', '.join(types)}")
            self.help.setText("Parameters the selected nodes share; a change applies to all.")
        if any(s is None for s in specs):
            self._show_shapes()
            return
        common = [p for p in specs[0].params
                  if all(any(q.name == p.name and q.kind == p.kind and q.choices == p.choices
                             for q in s.params) for s in specs[1:])]
        for param in common:
            widget = self._make_field(param)
            widget.setToolTip(param.help)
            label = QLabel(param.label or param.name)
            label.setToolTip(param.help)
            self.fields[param.name] = widget
            self.form.addRow(label, widget)
        self.refresh_values()

    def _make_field(self, param) -> QWidget:
        name = param.name
        if param.kind == "int":
            w = QSpinBox()
            w.setKeyboardTracking(False)
            w.setRange(int(max(param.min, -INT_LIMIT)) if param.min is not None else -INT_LIMIT,
                       int(min(param.max, INT_LIMIT)) if param.max is not None else INT_LIMIT)
            w.valueChanged.connect(lambda v, n=name: self._commit(n, int(v)))
        elif param.kind == "float":
            w = FloatSpin()
            w.setRange(param.min if param.min is not None else -1e12,
                       param.max if param.max is not None else 1e12)
            w.valueChanged.connect(lambda v, n=name: self._commit(n, float(v)))
        elif param.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda v, n=name: self._commit(n, bool(v)))
        elif param.kind == "choice":
            w = QComboBox()
            w.addItems(list(param.choices))
            w.currentTextChanged.connect(lambda v, n=name: self._commit(n, v))
        else:  # str, dims
            w = QLineEdit()
            if param.kind == "dims":
                w.setPlaceholderText("e.g. 4  or  1,8,8  or  steps,64")
            w.editingFinished.connect(lambda n=name, f=w: self._commit(n, f.text()))
        if isinstance(w, (QSpinBox, QDoubleSpinBox, QComboBox)):
            wheel_when_focused(w)  # scrolling the inspector never edits a value
        w.setObjectName(name)
        return w

    def refresh_values(self) -> None:
        """Put the nodes' current values into the fields (without committing anything)."""
        graph = self.document.graph if self.document else None
        nodes = [graph.nodes[n] for n in self.node_ids if n in graph.nodes] if graph else []
        if not nodes:
            if self.node_ids or self.fields:
                self.show_nodes([])
            return
        self._loading = True
        try:
            for name, w in self.fields.items():
                if name == "__title__":
                    w.setText(nodes[0].title)
                    if len(nodes) == 1:
                        spec = nodes[0].spec
                        self.heading.setText(f"<b>{nodes[0].title}</b> &nbsp;{nodes[0].type}"
                                             f"{' · ' + spec.category if spec else ''}")
                    continue
                values = [n.params.get(name) for n in nodes]
                value = values[0]
                differs = any(v != value for v in values[1:])
                label = self.form.labelForField(w)
                if label is not None:
                    label.setText(name + (" ≠" if differs else ""))
                    label.setToolTip(w.toolTip() + ("\n(the selected nodes differ)" if differs else ""))
                if isinstance(w, QSpinBox):
                    w.setValue(int(value))
                elif isinstance(w, QDoubleSpinBox):
                    w.setValue(float(value))
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    w.setCurrentText(str(value))
                elif isinstance(w, QLineEdit):
                    if w.text() != str(value):
                        w.setText("" if value is None else str(value))
        finally:
            self._loading = False
        self._show_shapes()

    def _show_shapes(self) -> None:
        doc = self.document
        if doc is None or len(self.node_ids) != 1 or self.node_ids[0] not in doc.graph.nodes:
            if len(self.node_ids) > 1 and doc is not None:
                total = sum(doc.analysis.params.get(n, 0) for n in self.node_ids)
                self.shapes.setText(f"<b>Parameters</b>: {total:,} in the selection")
            else:
                self.shapes.setText("")
            return
        nid = self.node_ids[0]
        a = doc.analysis
        rows = ["<b>Shapes</b>"]
        for port, t in a.inputs.get(nid, {}).items():
            rows.append(f"input <i>{port}</i>: {_fmt(t)}")
        for port, t in a.outputs.get(nid, {}).items():
            rows.append(f"output <i>{port}</i>: {_fmt(t)}")
        if len(rows) == 1:
            rows.append("<i>unknown until the inputs are connected and valid</i>")
        if nid in a.params:
            rows.append(f"<b>Parameters</b>: {a.params[nid]:,}")
        problems = a.problems_of(nid)
        if problems:
            rows.append("<b>Problems</b>")
            rows += [f"• {p.message}" for p in problems]
        self.shapes.setText("<br>".join(rows))

    # -- committing -------------------------------------------------------------------------
    def _refuse(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.message.emit(text)
        self._refresh_timer.start()

    def _commit(self, name: str, value) -> None:
        if self._loading or not self.node_ids or self.document is None:
            return
        graph = self.document.graph
        nodes = [graph.nodes[n] for n in self.node_ids if n in graph.nodes]
        changed = [n.id for n in nodes if n.params.get(name) != value]
        if not changed:
            return
        try:
            command = commands.SetParams(graph, changed, name, value)  # checks the value
        except GraphError as exc:
            self._refuse(str(exc))
            return
        self.error.hide()
        self.document.push(command)

    def _commit_title(self, field: QLineEdit) -> None:
        if self._loading or len(self.node_ids) != 1 or self.document is None:
            return
        nid, graph = self.node_ids[0], self.document.graph
        title = field.text().strip()
        if nid not in graph.nodes or title == graph.nodes[nid].title:
            return
        try:
            command = commands.SetTitle(graph, nid, title)  # checks the title
        except GraphError as exc:
            self._refuse(str(exc))
            return
        self.error.hide()
        self.document.push(command)


def _fmt(t) -> str:
    text = format_shape(t.shape) if t.shape else "scalar"
    if t.dtype != "float32":
        text += f" {t.dtype}"
    if t.cardinality:
        text += f" · {t.cardinality:,} values"
    return text
