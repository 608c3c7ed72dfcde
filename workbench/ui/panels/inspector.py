"""The inspector: a form generated from the selected node's spec.

Each committed change is one undoable command; a value the spec refuses is not applied, the
field goes back to the node's value and the reason is shown under the form. With several
nodes selected, the parameters they have in common are shown and a change applies to all.

A number or choice field of a single node has a ⌕ button that marks it as searched (the range
dialog, search_edit.open_search); a searched field shows its range under it in the search
colour. Optimizers and schedules offer "Search node type…"; a selection forming one chain
offers "Repeat ×N…", several chains "Search between branches…".

Model nodes with weights get a "Trainable" box (freezing for fine-tuning, ui/freezing.py). An
Opaque node's settings were written by an importer: they are shown as read-only text, and its
`call` (JSON for the compiler) not at all.
"""
from __future__ import annotations

import math
from html import escape as esc

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from workbench.core.graph import GraphError
from workbench.core.search_space import Dim, SpaceError
from workbench.core.types import format_shape
from workbench.ui import freezing, search_edit, theme
from workbench.ui.dialogs.search_dialog import TYPE_CATEGORIES, summary
from workbench.ui.editor import commands
from workbench.ui.editor.items import OPAQUE
from workbench.ui.panels.focus_wheel import wheel_when_focused

INT_LIMIT = 2**31 - 1
SEARCHABLE = ("int", "float", "bool", "choice")   # parameter kinds a search can vary
HIDDEN = ("call",)   # an Opaque node's call: canonical JSON for the compiler, not for reading


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
        self.rows: dict[str, QWidget] = {}          # a field with its search button and mark
        self.search_buttons: dict[str, QToolButton] = {}
        self.search_marks: dict[str, QLabel] = {}
        self.search_dialog = None                   # the last range dialog opened (tests)
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
        self.search_row = QWidget()      # Search node type… / Repeat ×N… / between branches
        row = QHBoxLayout(self.search_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.type_button = QPushButton("Search node type…")
        self.type_button.setToolTip("Let a search try other node types of this kind "
                                    "(the parameters both have are kept)")
        self.type_button.clicked.connect(lambda: self.open_search(None))
        self.structure_buttons: list[QPushButton] = []
        row.addWidget(self.type_button)
        row.addStretch(1)
        self.type_mark = _mark()
        for w in (self.heading, self.help, self.search_row, self.type_mark, self.form_host,
                  self.error, self.shapes):
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
            self.document.searchChanged.disconnect(self.show_search)
        self.document = document
        document.graph.subscribe(self._on_event)
        document.analysed.connect(self._on_analysis)
        document.searchChanged.connect(self.show_search)
        self.show_nodes([])

    def _on_event(self, ev) -> None:
        if ev.kind in ("param_changed", "title_changed", "trainable_changed") \
                and ev.node_id in self.node_ids:
            self._refresh_timer.start()
        elif ev.kind == "node_removed" and ev.node_id in self.node_ids:
            self.node_ids = [n for n in self.node_ids if n != ev.node_id]
            self._refresh_timer.start()

    def _on_analysis(self, analysis) -> None:
        if self.node_ids and self._freezable() != ("__trainable__" in self.fields):
            self.show_nodes(self.node_ids)   # the weights became known (or went): the box too
            return
        self._show_shapes()

    def _freezable(self) -> bool:
        doc = self.document
        return bool(self.node_ids) and doc is not None and all(
            freezing.freezable(doc.graph, doc.analysis, n) for n in self.node_ids)

    # -- building the form ------------------------------------------------------------------
    def show_nodes(self, node_ids: list[str]) -> None:
        graph = self.document.graph if self.document else None
        self.node_ids = [n for n in node_ids if graph is not None and n in graph.nodes]
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        self.rows.clear()
        self.search_buttons.clear()
        self.search_marks.clear()
        self.error.hide()
        nodes = [graph.nodes[n] for n in self.node_ids]
        self._show_search_row(nodes)
        _set_mark(self.type_mark, "")
        if not nodes:
            self.heading.setText("<b>Nothing selected</b>")
            self.help.setText("Select a node on the canvas to edit its parameters. Add nodes "
                              "from the palette: drag one onto the canvas, or double-click it.")
            self.shapes.setText("")
            return
        specs = [n.spec for n in nodes]
        if len(nodes) == 1:
            node, spec = nodes[0], specs[0]
            self.heading.setText(f"<b>{esc(node.title)}</b> &nbsp;<span>{esc(node.type)}"
                                 f"{' · ' + spec.category if spec else ''}</span>")
            self.help.setText(spec.help if spec else "Unknown node type.")
            title = QLineEdit(node.title)
            title.setObjectName("title")
            title.editingFinished.connect(lambda w=title: self._commit_title(w))
            self.fields["__title__"] = title
            self.form.addRow("title", title)
        else:
            types = sorted({n.type for n in nodes})
            self.heading.setText(f"<b>{len(nodes)} nodes</b> &nbsp;{esc(', '.join(types))}")
            self.help.setText("Parameters the selected nodes share; a change applies to all.")
        if any(s is None for s in specs):
            self._show_shapes()
            return
        common = [p for p in specs[0].params
                  if all(any(q.name == p.name and q.kind == p.kind and q.choices == p.choices
                             for q in s.params) for s in specs[1:])]
        read_only = any(n.type == OPAQUE for n in nodes)
        for param in common:
            if read_only:   # an importer wrote it: shown, never edited (`call` not even shown)
                if param.name not in HIDDEN:
                    self._add_read_only(param)
                continue
            widget = self._make_field(param)
            widget.setToolTip(param.help)
            label = QLabel(param.label or param.name)
            label.setToolTip(param.help)
            self.fields[param.name] = widget
            row = widget
            if len(nodes) == 1 and param.kind in SEARCHABLE:
                row = self._search_row(param, widget)
            self.form.addRow(label, row)
        if self._freezable():
            box = QCheckBox()
            box.setObjectName("__trainable__")
            box.setToolTip("Unticked: the weights stay as they are when training (frozen, for "
                           "fine-tuning an imported model); the optimizer sees only trainable "
                           "weights")
            box.toggled.connect(self._commit_trainable)
            self.fields["__trainable__"] = box
            label = QLabel("Trainable")
            label.setToolTip(box.toolTip())
            self.form.addRow(label, box)
        self.refresh_values()

    def _add_read_only(self, param) -> None:
        field = QLabel()
        field.setObjectName(param.name)
        field.setTextFormat(Qt.PlainText)          # the text comes from the imported file
        field.setWordWrap(True)
        field.setTextInteractionFlags(Qt.TextSelectableByMouse)
        field.setToolTip(f"{param.help}\n(set by the import; read-only)".strip())
        label = QLabel(param.label or param.name)
        label.setToolTip(field.toolTip())
        self.fields[param.name] = field
        self.form.addRow(label, field)

    def _search_row(self, param, widget) -> QWidget:
        """The field, its ⌕ button, and under them the range when it is searched."""
        host = QWidget()
        lay = QVBoxLayout(host)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        line = QHBoxLayout()
        line.setSpacing(2)
        line.addWidget(widget, 1)
        button = QToolButton()
        button.setText("⌕")
        button.setObjectName(f"search:{param.name}")
        button.setToolTip(f"Search {param.name}: let a search try a range or a list of values")
        button.setAutoRaise(True)
        font = button.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        button.setFont(font)
        button.setFixedHeight(widget.sizeHint().height())   # the label stays level with the field
        button.clicked.connect(lambda _=False, n=param.name: self.open_search(n))
        line.addWidget(button)
        lay.addLayout(line)
        mark = _mark()
        lay.addWidget(mark)
        self.rows[param.name] = host
        self.search_buttons[param.name] = button
        self.search_marks[param.name] = mark
        return host

    def _show_search_row(self, nodes) -> None:
        for b in self.structure_buttons:
            b.deleteLater()
        self.structure_buttons = []
        one = nodes[0] if len(nodes) == 1 else None
        self.type_button.setVisible(one is not None and one.spec is not None
                                    and one.spec.category in TYPE_CATEGORIES)
        lay = self.search_row.layout()
        for text, target in self.structure_targets():
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, t=target: self.open_target(t))
            lay.insertWidget(lay.count() - 1, b)
            self.structure_buttons.append(b)
        self.search_row.setVisible(not self.type_button.isHidden() or bool(self.structure_buttons))

    # -- searching --------------------------------------------------------------------------
    def structure_targets(self) -> list[tuple[str, Dim]]:
        """("Repeat ×N…" | "Search between branches…", target) for the selection (the canvas
        menu offers the same)."""
        if self.document is None or len(self.node_ids) < 2:
            return []
        return search_edit.structure_targets(self.document.graph, self.node_ids)

    def open_search(self, param: str | None):
        """The range dialog for a parameter of the selected node (None: its type)."""
        if self.document is None or len(self.node_ids) != 1:
            return None
        nid = self.node_ids[0]
        kind = "type" if param is None else "float"
        return self.open_target(Dim("", kind, node=nid, param=param))

    def open_target(self, target: Dim):
        try:
            self.search_dialog = search_edit.open_search(self.document, target, self)
        except SpaceError as exc:
            self._refuse(f"the project's search cannot be read, fix it in the file first: {exc}")
            return None
        return self.search_dialog

    def show_search(self) -> None:
        """Each searched field's range and colour; the rest unmarked."""
        if self.document is None:
            return
        space = search_edit.space_of(self.document)
        graph = self.document.graph
        nid = self.node_ids[0] if len(self.node_ids) == 1 else None
        for name, mark in self.search_marks.items():
            d = space.targeting(nid, name) if nid else None
            _set_mark(mark, summary(d, graph) if d else "")
            self.search_buttons[name].setStyleSheet(
                f"color: {search_edit.MARK_COLOUR}; font-weight: bold" if d else "")
            label = self.form.labelForField(self.rows[name])
            if label is not None:
                label.setStyleSheet(f"color: {search_edit.MARK_COLOUR}" if d else "")
        t = space.targeting(nid, None) if nid and not self.type_button.isHidden() else None
        _set_mark(self.type_mark, f"type {summary(t, graph)}" if t else "")
        self.type_button.setText("Search node type… ⌕" if t else "Search node type…")

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
                        self.heading.setText(f"<b>{esc(nodes[0].title)}</b> &nbsp;{esc(nodes[0].type)}"
                                             f"{' · ' + spec.category if spec else ''}")
                    continue
                if name == "__trainable__":
                    mixed = len({n.trainable for n in nodes}) > 1
                    label = self.form.labelForField(w)
                    if label is not None:
                        label.setText("Trainable" + (" ≠" if mixed else ""))
                    w.setChecked(all(n.trainable for n in nodes))
                    continue
                values = [n.params.get(name) for n in nodes]
                value = values[0]
                differs = any(v != value for v in values[1:])
                label = self.form.labelForField(self.rows.get(name, w))
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
                elif isinstance(w, QLabel):   # read-only (an Opaque node's op, reason)
                    w.setText("" if value is None else str(value))
                elif isinstance(w, QLineEdit):
                    if w.text() != str(value):
                        w.setText("" if value is None else str(value))
        finally:
            self._loading = False
        self.show_search()
        self._show_shapes()

    def _show_shapes(self) -> None:
        doc = self.document
        if doc is None or len(self.node_ids) != 1 or self.node_ids[0] not in doc.graph.nodes:
            if len(self.node_ids) > 1 and doc is not None:
                total = sum(doc.analysis.params.get(n, 0) for n in self.node_ids)
                frozen = sum(doc.analysis.params.get(n, 0) for n in self.node_ids
                             if n in doc.graph.nodes and not doc.graph.nodes[n].trainable)
                self.shapes.setText(f"<b>Parameters</b>: {total:,} in the selection"
                                    + (f", {frozen:,} of them frozen" if frozen else ""))
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
            frozen = " · frozen" if not doc.graph.nodes[nid].trainable else ""
            rows.append(f"<b>Parameters</b>: {a.params[nid]:,}{frozen}")
        problems = a.problems_of(nid)
        if problems:
            rows.append("<b>Problems</b>")
            rows += [f"• {esc(p.message)}" for p in problems]
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

    def _commit_trainable(self, value: bool) -> None:
        if self._loading or not self.node_ids or self.document is None:
            return
        graph = self.document.graph
        changed = [n for n in self.node_ids if n in graph.nodes and graph.nodes[n].trainable != value]
        if changed:
            self.error.hide()
            self.document.push(commands.SetTrainable(graph, changed, bool(value)))

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


def _mark() -> QLabel:
    mark = QLabel()
    mark.setTextFormat(Qt.PlainText)   # choices come from the user's file
    mark.setWordWrap(True)
    mark.setStyleSheet(f"color: {search_edit.MARK_COLOUR}; font-size: 11px")
    mark.hide()
    return mark


def _set_mark(mark: QLabel, text: str) -> None:
    mark.setText(text)
    mark.setVisible(bool(text))


def _fmt(t) -> str:
    text = format_shape(t.shape) if t.shape else "scalar"
    if t.dtype != "float32":
        text += f" {t.dtype}"
    if t.cardinality:
        text += f" · {t.cardinality:,} values"
    return text
