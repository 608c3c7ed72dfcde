"""The range a search may try for one target: a node parameter, a training setting, a node's
type, a chain's repeat count or a choice between branches.

The dialog only builds a `Dim`; the core decides whether it is usable. Every edit runs the
same checks a project file gets at load (`search_space.from_dict`) and those against the graph
(`search_space.problems`), so what OK accepts is exactly what a saved project accepts. The
caller (search_edit.open_search) turns the outcome into one undoable step.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout)

from workbench.core import catalog, search_space
from workbench.core.search_space import SETTINGS, Dim, SearchSpace, SpaceError
from workbench.core.training_settings import TrainingSettings
from workbench.ui import theme

KIND_LABELS = {"float": "number range", "int": "whole-number range", "choice": "one of a list",
               "type": "node type", "repeat": "repeat count", "branch": "one of the branches"}
TYPE_CATEGORIES = ("Optimizers", "Schedules")   # node types a search may swap


def same_role(spec) -> list:
    """The node types that may replace `spec` in a type search (itself included)."""
    return [s for s in catalog.all_specs() if s.role == spec.role and s.category == spec.category]


def summary(d: Dim, graph=None) -> str:
    """The mark shown next to a searched field: `searched 0.0001…0.1 log`."""
    if d.kind in ("float", "int"):
        text = f"searched {d.low:g}…{d.high:g}"
        return text + (" log" if d.log else "") + (f" step {d.step:g}" if d.step is not None else "")
    if d.kind in ("choice", "type"):
        return "searched: " + " | ".join(_shown(c) for c in d.choices)
    if d.kind == "repeat":
        return f"repeated {d.low}…{d.high}×"
    titles = [" → ".join(graph.nodes[n].title if graph is not None and n in graph.nodes else n
                         for n in o) for o in d.options]
    return "one of: " + " | ".join(titles)


def _shown(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else (f"{v:g}" if isinstance(v, float) else str(v))


def _text(v) -> str:
    return "" if v is None else _shown(v)


def _round(v: float) -> float:
    return float(f"{v:.3g}")


class SearchRangeDialog(QDialog):
    """`target`: a Dim naming what is searched (node+param, setting, node alone for its type,
    nodes for a repeat, options for branches); its kind is the one offered first. `current`
    is the dimension already searching it, if any (then "Stop searching" is offered).

    After the dialog closes: `outcome` is "set" (use `dim()`), "stop" or None (cancelled)."""

    def __init__(self, graph, space: SearchSpace, target: Dim, training: dict | None = None,
                 parent=None):
        super().__init__(parent)
        self.graph, self.space, self.target = graph, space, target
        self.training = training
        self.current = _existing(space, target)
        self.outcome: str | None = None
        self.param = None
        if target.node is not None and target.param is not None and target.node in graph.nodes:
            spec = graph.nodes[target.node].spec
            self.param = next((p for p in spec.params if p.name == target.param), None) if spec else None
        self.value_kind = self._value_kind()
        self.setWindowTitle(f"Search {search_space.label(target, graph)}")

        self.name = QLineEdit((self.current or target).name or search_space.label(target, graph))
        self.name.setToolTip("The name of this dimension in the search and its trials")
        self.kind = QComboBox()
        for k in self._kinds():
            self.kind.addItem(KIND_LABELS[k], k)
        self.low, self.high, self.step = QLineEdit(), QLineEdit(), QLineEdit()
        self.step.setPlaceholderText("none")
        self.log = QCheckBox("log scale")
        self.log.setToolTip("Sample evenly in orders of magnitude (learning rates, weight decay)")
        self.choices = QLineEdit()
        self.choices.setPlaceholderText("comma-separated, e.g. " + self._choice_example())
        self.types = QListWidget()
        self.chains = QLabel()
        self.chains.setWordWrap(True)
        self.chains.setTextFormat(Qt.PlainText)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.PlainText)
        self.message.setStyleSheet(f"color: {theme.LIGHT.bad}; font-weight: 600;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.Ok)
        self.stop_button = self.buttons.addButton("Stop searching", QDialogButtonBox.DestructiveRole)
        self.stop_button.setVisible(self.current is not None)
        self.stop_button.clicked.connect(self._stop)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

        self.form = QFormLayout()
        self.form.addRow("Name", self.name)
        self.form.addRow("Search", self.kind)
        self.form.addRow("Low", self.low)
        self.form.addRow("High", self.high)
        self.form.addRow("", self.log)
        self.form.addRow("Step", self.step)
        self.form.addRow("Choices", self.choices)
        self.form.addRow("Types", self.types)
        self.form.addRow("Chains", self.chains)
        self.setMinimumWidth(400)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self._fill()
        for w in (self.name, self.low, self.high, self.step, self.choices):
            w.textChanged.connect(self.validate)
        self.log.toggled.connect(self.validate)
        self.types.itemChanged.connect(self.validate)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    # -- what is offered ----------------------------------------------------------------------
    def _value_kind(self) -> str:
        """int / float / bool / text: how the target's values are typed."""
        if self.target.setting is not None:
            return SETTINGS.get(self.target.setting, "float")
        if self.param is not None:
            return {"int": "int", "float": "float", "bool": "bool"}.get(self.param.kind, "text")
        return "int"

    def _kinds(self) -> list[str]:
        t = self.target
        if t.kind in ("type", "repeat", "branch"):
            return [t.kind]
        ranged = [self.value_kind] if self.value_kind in ("int", "float") else []
        return ranged + ["choice"]

    def _choice_example(self) -> str:
        return {"int": "16, 32, 64", "float": "0.1, 0.3, 0.5", "bool": "true, false"}.get(
            self.value_kind, ", ".join(self.param.choices[:3]) if self.param and self.param.choices else "a, b")

    def _now(self):
        """The target's value in the project now (the middle of a new range)."""
        t = self.target
        if self.param is not None:
            return self.graph.nodes[t.node].params.get(t.param, self.param.default)
        if t.setting is not None and self.training is not None:
            try:
                value = TrainingSettings.from_dict(self.training).to_dict()
            except ValueError:   # a bad settings file: no value to centre on
                return None
            for part in t.setting.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return value
        return None

    def _fill(self) -> None:
        d = self.current
        if d is not None:
            self.kind.setCurrentIndex(max(0, self.kind.findData(d.kind)))
            self.low.setText(_text(d.low))
            self.high.setText(_text(d.high))
            self.log.setChecked(d.log)
            self.step.setText(_text(d.step))
            self.choices.setText(", ".join(_shown(c) for c in d.choices) if d.kind == "choice" else "")
        else:
            self._defaults()
        if self.target.kind == "type":
            node = self.graph.nodes.get(self.target.node)
            chosen = set(d.choices) if d is not None else {node.type if node else ""}
            self.types.clear()
            for spec in same_role(node.spec) if node is not None and node.spec else []:
                item = QListWidgetItem(spec.type)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked if spec.type in chosen else Qt.Unchecked)
                self.types.addItem(item)
        if self.target.kind == "branch":
            self.chains.setText(summary(self.target, self.graph).removeprefix("one of: ")
                                .replace(" | ", "\nor "))

    def _defaults(self) -> None:
        t, v = self.target, self._now()
        p = self.param
        lo_limit = p.min if p is not None and p.min is not None else None
        hi_limit = p.max if p is not None and p.max is not None else None
        if t.kind == "repeat":
            low, high, log = 1, 3, False
        elif self.value_kind == "float" and isinstance(v, (int, float)) and not isinstance(v, bool):
            low, high, log = (_round(v / 10), _round(v * 10), True) if v > 0 else (0.0, 1.0, False)
        elif self.value_kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            low, high, log = (max(1, v // 2), v * 2, False) if v > 0 else (0, 10, False)
        else:
            low = high = None
            log = False
        if low is not None:
            if lo_limit is not None and low < lo_limit:
                low = type(low)(lo_limit)
            if hi_limit is not None and high > hi_limit:
                high = type(high)(hi_limit)
            log = log and low > 0
        self.low.setText(_text(low))
        self.high.setText(_text(high))
        self.log.setChecked(log)
        self.step.setText("")
        if self.value_kind == "bool":
            self.choices.setText("true, false")
        elif p is not None and p.kind == "choice":
            self.choices.setText(", ".join(p.choices))
        else:
            self.choices.setText(_text(v) if v is not None else "")

    def _kind_changed(self) -> None:
        k = self.kind.currentData()
        for w, kinds in ((self.low, ("float", "int", "repeat")), (self.high, ("float", "int", "repeat")),
                         (self.log, ("float", "int")), (self.step, ("float", "int")),
                         (self.choices, ("choice",)), (self.types, ("type",)),
                         (self.chains, ("branch",))):
            self.form.setRowVisible(w, k in kinds)
        self.validate()

    # -- checking ---------------------------------------------------------------------------
    def _item(self) -> dict:
        """The dimension as the file writes it; ValueError for a field that does not parse."""
        k = self.kind.currentData()
        t = self.target
        item: dict = {"name": self.name.text().strip(), "kind": k}
        for key in ("node", "param", "setting"):
            if getattr(t, key) is not None:
                item[key] = getattr(t, key)
        if k in ("float", "int", "repeat"):
            number = float if k == "float" else int
            for key, w in (("low", self.low), ("high", self.high)):
                item[key] = _parse(w.text(), number, key)
        if k in ("float", "int"):
            if self.log.isChecked():
                item["log"] = True
            if self.step.text().strip():
                item["step"] = _parse(self.step.text(), float if k == "float" else int, "step")
        if k == "choice":
            item["choices"] = parse_choices(self.choices.text(), self.value_kind)
        if k == "type":
            item["choices"] = [self.types.item(i).text() for i in range(self.types.count())
                               if self.types.item(i).checkState() == Qt.Checked]
        if k == "repeat":
            item["nodes"] = list(t.nodes)
        if k == "branch":
            item["options"] = [list(o) for o in t.options]
        return item

    def problem(self) -> str:
        """What is wrong with the dimension as filled in, or "" when OK may accept it."""
        try:
            item = self._item()
        except ValueError as exc:
            return str(exc)
        try:
            d = search_space.from_dict({"space": [item]}).space[0]
        except SpaceError as exc:
            text = str(exc).removeprefix("search.space[0].").removeprefix("search.space[0]: ")
            key, _, why = text.partition(": ")
            return why if why.startswith(key + " ") else text   # not "low: low 0.1 is above…"
        others = [o for o in self.space.space if o is not self.current]
        if any(o.name == d.name for o in others):
            return f"another searched value is named {d.name!r}"
        found = search_space.problems(SearchSpace([d]), self.graph)
        return found[0].removeprefix(f"search '{d.name}': ") if found else ""

    def validate(self) -> bool:
        text = self.problem()
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.ok.setEnabled(not text)
        return not text

    def dim(self) -> Dim | None:
        """The dimension as filled in; None while it has a problem."""
        if self.problem():
            return None
        return search_space.from_dict({"space": [self._item()]}).space[0]

    def _accept(self) -> None:
        if self.validate():
            self.outcome = "set"
            self.accept()

    def _stop(self) -> None:
        self.outcome = "stop"
        self.accept()


def _existing(space: SearchSpace, target: Dim) -> Dim | None:
    if target.setting is not None:
        return space.setting_dim(target.setting)
    if target.kind in ("repeat", "branch"):
        return next((d for d in space.space if d.kind == target.kind and d.target() == target.target()), None)
    return space.targeting(target.node, target.param)


def _parse(text: str, number, key: str):
    t = text.strip().replace(",", ".") if number is float else text.strip()
    try:
        return number(t)
    except ValueError:
        what = "a number" if number is float else "a whole number"
        raise ValueError(f"{key}: expected {what}, got {text.strip()!r}") from None


_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}


def parse_choices(text: str, kind: str) -> list:
    """Comma-separated values typed like the target: int, float, bool or text."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if kind == "bool":
            if part.lower() not in _BOOLS:
                raise ValueError(f"choices: {part!r} is not true or false")
            out.append(_BOOLS[part.lower()])
        elif kind in ("int", "float"):
            out.append(_parse(part, int if kind == "int" else float, "choices"))
        else:
            out.append(part)
    if not out:
        raise ValueError("choices: list one or more, separated by commas")
    return out
