"""The Experiments panel: run the project's search from the window and read its trials.

The search (workbench/search/study.py) runs in a SearchWorker on its own QThread; after each
trial the worker reads the study and sends every TrialRecord, which this panel shows in a
sortable, filterable table and four charts (best so far, parallel coordinates, parameter
importance, the Pareto front of a two-objective search). "Apply trial" writes a trial's
values into the project as one undoable edit (ui/apply_trial.py); "Export trial" asks the
window for the normal Export dialog on that trial's run folder (`exportRequested`).

When a saved project with a study beside it is opened, the study is read (in a Task) and
shown; a search still running for the last document is stopped and whatever it still sends
is ignored (each signal carries its worker's token).
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal,
                            Slot)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QSplitter, QTableView,
                               QTabWidget, QVBoxLayout, QWidget)

from workbench.core import search_space as ss
from workbench.ui import charts
from workbench.ui.panels import experiments_charts as ec
from workbench.ui.workers import SearchWorker, Task

SORT_ROLE = Qt.UserRole + 1
STATES = ("complete", "pruned", "running", "failed", "waiting")
STATE_COLOURS = {"complete": "#2e9e5b", "pruned": "#b07d10", "failed": "#d9534f", "running": "#2f7de1"}
NO_SPACE = ("Nothing is searched yet: mark a value with the ⌕ button beside an Inspector field "
            "(or Search node type…, Repeat ×N…), or with the Training panel's ⌕ Search menu; "
            "then Start runs one training per trial (docs/search.md).")
UNSAVED = ("Save the project first: the search keeps its study (every trial) in a journal "
           "file beside the project file.")


def _duration(s) -> str:
    if not isinstance(s, (int, float)) or not math.isfinite(s):
        return "—"
    return f"{s:.1f} s" if s < 120 else f"{int(s) // 60} min {int(s) % 60:02d} s"


def _metrics_text(record) -> str | None:
    """The trial's figures on val and test (what the run's summary says), one line each."""
    lines = []
    for split in ("val", "test"):
        figures = record.metrics.get(split) or {}
        if figures:
            lines.append(f"{split}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()
                                                  if isinstance(v, (int, float))))
    if record.epochs_run is not None:
        lines.append(f"epochs run: {record.epochs_run}")
    return "\n".join(lines) or None


class TrialModel(QAbstractTableModel):
    """One row per trial: number, state, objective value(s), each searched value, duration,
    reason. SORT_ROLE gives the raw value so that numbers sort as numbers."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.records: list = []
        self.objectives: list[str] = ["objective"]
        self.names: list[str] = []
        self.space = ss.SearchSpace()
        self.graph = None

    def set_trials(self, records, objectives: list[str], space: ss.SearchSpace, graph) -> None:
        self.beginResetModel()
        self.records, self.objectives, self.space, self.graph = list(records), list(objectives), space, graph
        names = [d.name for d in space.space]
        extra = sorted({k for r in self.records for k in r.params if k not in names})
        self.names = names + extra
        self.endResetModel()

    def headers(self) -> list[str]:
        return ["#", "State", *self.objectives, *self.names, "Duration", "Reason"]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.headers())

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.headers()[section]
        k = section - 2 - len(self.objectives)    # a searched value's column: what it changes
        if orientation == Qt.Horizontal and role == Qt.ToolTipRole and 0 <= k < len(self.names):
            d = self.space.dim(self.names[k])
            return d.target() if d is not None else "no longer in the search space"
        return None

    def raw(self, row: int, column: int):
        r = self.records[row]
        k = column
        if k == 0:
            return r.number
        if k == 1:
            return r.state
        k -= 2
        if k < len(self.objectives):
            return r.values[k] if r.values and k < len(r.values) else None
        k -= len(self.objectives)
        if k < len(self.names):
            return r.params.get(self.names[k])
        k -= len(self.names)
        return r.duration_s if k == 0 else r.reason

    def text(self, row: int, column: int) -> str:
        value = self.raw(row, column)
        k = column - 2
        if value is None:
            return "" if column == self.columnCount() - 1 else "—"
        if 0 <= k < len(self.objectives):   # a loss to 4 places; parameters, FLOPs whole
            whole = math.isfinite(value) and float(value).is_integer() and abs(value) >= 100
            return f"{value:,.0f}" if whole or abs(value) >= 1e5 else f"{value:.4f}"
        k -= len(self.objectives)
        if 0 <= k < len(self.names):
            d = self.space.dim(self.names[k])
            return ss.describe(d, value, self.graph) if d is not None else str(value)
        if column == self.columnCount() - 2:
            return _duration(value)
        return str(value)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.DisplayRole:
            return self.text(row, column)
        if role == SORT_ROLE:
            value = self.raw(row, column)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "" if value is None else str(value)
            return float(value) if math.isfinite(value) else float("inf")
        if role == Qt.ToolTipRole and column == self.columnCount() - 1:
            return self.records[row].reason or None
        if role == Qt.ToolTipRole and column == 0:
            return _metrics_text(self.records[row])
        if role == Qt.ForegroundRole and column == 1:
            colour = STATE_COLOURS.get(self.records[row].state)
            return QColor(colour) if colour else None
        if role == Qt.TextAlignmentRole and column != self.columnCount() - 1 and column != 1:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class TrialFilter(QSortFilterProxyModel):
    """A state (or all) and a piece of text found in any cell of the row."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = ""
        self.needle = ""
        self.setSortRole(SORT_ROLE)

    def set_filter(self, state: str, needle: str) -> None:
        if not hasattr(self, "beginFilterChange"):     # Qt < 6.9
            self.state, self.needle = state, needle.strip().lower()
            self.invalidateFilter()
            return
        self.beginFilterChange()     # invalidateFilter() is deprecated from Qt 6.10
        self.state, self.needle = state, needle.strip().lower()
        self.endFilterChange()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        model: TrialModel = self.sourceModel()
        if self.state and model.records[row].state != self.state:
            return False
        if not self.needle:
            return True
        return any(self.needle in model.text(row, c).lower() for c in range(model.columnCount()))

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if type(a) is not type(b):    # numbers before text ("—")
            return isinstance(a, float)
        return a < b


class ExperimentsPanel(QWidget):
    message = Signal(str)
    exportRequested = Signal(object)    # Path: a trial's run folder
    stateChanged = Signal(str)          # idle | running | stopping
    searchFinished = Signal()

    def __init__(self, threads, parent=None):
        super().__init__(parent)
        self.setObjectName("ExperimentsPanel")
        self.threads = threads
        self.document = None
        self.worker: SearchWorker | None = None
        self.state = "idle"
        self.records: list = []
        self.importance: dict[str, float] = {}
        self.info: dict = {}
        self.space = ss.SearchSpace()
        self.space_error = ""
        self.error = ""
        self._open_token = None
        self._redrawing = False
        self._build()
        self.setMinimumSize(max(860, self.minimumSizeHint().width()), 300)
        self.clear()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Run the search: one training per trial, in the background")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; finished trials stay, the "
                                    "interrupted one runs again when the search resumes")
        self.stop_button.clicked.connect(self.stop)
        self.trials = QSpinBox()
        self.trials.setRange(1, 100_000)
        self.trials.setToolTip("The study's total: trials finished earlier count towards it")
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 100_000)
        self.epochs.setSpecialValueText("project's")
        self.epochs.setToolTip("Epochs per trial (blank: the project's own epochs)")
        self.multi = QComboBox()
        self.multi.addItem("none", None)
        self.multi.addItem("parameters", "params")
        self.multi.addItem("FLOPs", "flops")
        self.multi.setToolTip("A second objective to minimise: the trials' Pareto front is shown")
        self.apply_button = QPushButton("Apply trial")
        self.apply_button.setToolTip("Write the selected trial's values into the project (one undo step)")
        self.apply_button.clicked.connect(self.apply_selected)
        self.export_button = QPushButton("Export trial…")
        self.export_button.setToolTip("Export the selected trial's run (the Export dialog)")
        self.export_button.clicked.connect(self.export_selected)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addSpacing(10)
        for text, w in (("Trials", self.trials), ("Epochs per trial", self.epochs),
                        ("2nd objective", self.multi)):
            row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.apply_button)
        row.addWidget(self.export_button)
        self.status = QLabel()
        self.status.setTextFormat(Qt.PlainText)
        self.status.setMinimumWidth(100)
        self.hint = QLabel()
        self.hint.setTextFormat(Qt.PlainText)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignTop | Qt.AlignLeft)   # under the controls, not mid-panel
        self.hint.setStyleSheet("color: palette(placeholder-text); padding: 4px;")
        self.error_label = QLabel()
        self.error_label.setTextFormat(Qt.PlainText)
        self.error_label.setStyleSheet("color: #d9534f; font-weight: 600;")
        self.error_label.setMinimumWidth(100)
        self.error_label.hide()

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter trials (any value, reason)…")
        self.filter.setClearButtonEnabled(True)
        self.state_filter = QComboBox()
        self.state_filter.addItem("all states", "")
        for s in STATES:
            self.state_filter.addItem(s, s)
        self.filter.textChanged.connect(self._filter_changed)
        self.state_filter.currentIndexChanged.connect(self._filter_changed)
        self.model = TrialModel(self)
        self.proxy = TrialFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.apply_selected())
        frow = QHBoxLayout()
        frow.addWidget(self.filter, 1)
        frow.addWidget(self.state_filter)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(frow)
        ll.addWidget(self.table, 1)

        self.best_plot = charts.make_plot("Best so far", bottom="trial")
        self.parallel_plot = charts.make_plot("Parallel coordinates (orange = better)")
        self.importance_plot = charts.make_plot("Parameter importance")
        self.pareto_plot = charts.make_plot("Pareto front")
        self.tabs = QTabWidget()
        for plot, text in ((self.best_plot, "Best so far"), (self.parallel_plot, "Parallel"),
                           (self.importance_plot, "Importance"), (self.pareto_plot, "Pareto")):
            self.tabs.addTab(plot, text)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 520])       # the table's reason column in view at 1400 px
        self.body = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(self.error_label)
        lay.addWidget(self.hint)
        lay.addWidget(split, 1)

    # -- document -------------------------------------------------------------------------
    def set_document(self, document) -> None:
        """Another document: a search still running for the last one is stopped (and what
        it still sends ignored); the study of this one, if it has one, is read and shown."""
        if self.document is not None:
            self.document.analysed.disconnect(self._analysed)
            self.document.pathChanged.disconnect(self._path_changed)
            self.document.searchChanged.disconnect(self._search_changed)
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.document = document
        document.analysed.connect(self._analysed)
        document.pathChanged.connect(self._path_changed)
        document.searchChanged.connect(self._search_changed)
        self.clear()
        self.read_space(reset_trials=True)
        self.open_study()

    def clear(self) -> None:
        self.records, self.importance, self.info = [], {}, {}
        self._open_token = None
        self.error = ""
        self.error_label.hide()
        self.status.setText("")
        self._set_state("idle")
        self.redraw()

    def read_space(self, reset_trials: bool = False) -> None:
        """The project's search space, and the hint when there is nothing to search."""
        try:
            self.space, self.space_error = ss.of(self.document.project), ""
        except ss.SpaceError as exc:
            self.space, self.space_error = ss.SearchSpace(), str(exc)
        if reset_trials:
            self.trials.setValue(self.space.trials)
        project = self.document.project
        if self.space_error:
            hint = f"The project's search space cannot be used: {self.space_error}"
        elif not self.space.space:
            hint = NO_SPACE
        elif project.path is None:
            hint = UNSAVED
        else:
            hint = ""
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))
        self.body.setVisible(not hint or bool(self.records))
        self._update_buttons()

    @Slot(object)
    def _analysed(self, _analysis) -> None:
        had = (self.space.to_dict(), self.space_error)
        self.read_space()
        if (self.space.to_dict(), self.space_error) != had:
            self.redraw()

    @Slot()
    def _search_changed(self) -> None:
        """A value marked or unmarked (an undoable SetSearchSpace): the hint, the columns and
        the trials box (when the space's own total changed) follow at once."""
        trials = self.space.trials
        self._analysed(None)
        if self.space.trials != trials and self.state == "idle":
            self.trials.setValue(self.space.trials)

    @Slot(object)
    def _path_changed(self, _path) -> None:
        self.read_space()
        if not self.records:
            self.open_study()

    def open_study(self) -> None:
        """Show the study beside a saved project (read in a worker thread)."""
        from workbench.search.study import default_storage
        project = self.document.project
        if project.path is None or not self.space.space:
            return
        try:
            if not default_storage(project).is_file():
                return
        except Exception:   # noqa: BLE001 - no study to show
            return
        snapshot, objective = project.copy(), self.space.objective

        def job(report, cancelled):
            from workbench.search.study import importance, open_study, records
            study = open_study(snapshot)
            if study is None:
                return None
            attrs = study.user_attrs
            return ({"objective": attrs.get("objective", objective),
                     "multi": attrs.get("multi"),
                     "directions": [d.name.lower() for d in study.directions]},
                    records(study), importance(study))

        from workbench.search.study import SearchError
        task = Task(job, expected=(SearchError, OSError, ValueError))
        task.done.connect(self._study_read)
        task.failed.connect(self._study_failed)
        self._open_token = task.token
        self._open_task = task
        self.threads.start(task)

    @Slot(int, object)
    def _study_read(self, token: int, value) -> None:
        if token != self._open_token or value is None or self.state != "idle":
            return
        self.info, self.records, self.importance = value
        # resuming it needs the same objectives: the box starts at the study's
        self.multi.setCurrentIndex(max(0, self.multi.findData(self.info.get("multi"))))
        self.status.setText(f"{len(self.records)} trial{'s' if len(self.records) != 1 else ''} "
                            "of an earlier search; Start resumes it")
        self.read_space()
        self.redraw()

    @Slot(int, str)
    def _study_failed(self, token: int, message: str) -> None:
        if token == self._open_token:
            self.show_error(f"cannot read the study: {message}")

    # -- state ----------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        for w in (self.trials, self.epochs, self.multi):
            w.setEnabled(state == "idle")
        self._update_buttons()
        self.stateChanged.emit(state)

    def can_start(self) -> bool:
        return (self.state == "idle" and self.document is not None and not self.space_error
                and bool(self.space.space) and self.document.project.path is not None)

    @Slot()
    def _update_buttons(self, *_) -> None:
        self.start_button.setEnabled(self.can_start())
        self.stop_button.setEnabled(self.state == "running")
        r = self.selected_record()
        self.apply_button.setEnabled(r is not None and bool(r.params) and self.document is not None)
        self.export_button.setEnabled(r is not None and self._run_folder(r) is not None)

    def show_error(self, message: str) -> None:
        self.error = message
        self.error_label.setText(f"⚠ {message}")
        self.error_label.setToolTip(message)
        self.error_label.show()
        self.message.emit(message)

    # -- running --------------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        """Start (or resume) the search of the project on screen, in the background."""
        from workbench.search.study import Options, Search
        if self.state != "idle" or self.document is None:
            return False
        self.read_space()
        if not self.can_start():
            self.show_error(self.hint.text() or "nothing to search")
            return False
        self.error_label.hide()
        self.error = ""
        project = self.document.project.copy()    # the worker never sees later edits
        options = Options(trials=int(self.trials.value()),
                          epochs=int(self.epochs.value()) or None, multi=self.multi.currentData())
        worker = SearchWorker(lambda **callbacks: Search(project, options, **callbacks))
        worker.opened.connect(self._opened)
        worker.records.connect(self._records)
        worker.said.connect(self._said)
        worker.progress.connect(self._progress)
        worker.failed.connect(self._failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        self._open_token = None          # an earlier study still being read: this one wins
        self._set_state("running")
        self.status.setText("preparing the data and the study…")
        self.hint.hide()
        self.body.show()
        self.threads.start(worker)
        return True

    @Slot()
    def stop(self) -> None:
        if self.worker is not None and self.state == "running":
            self.worker.stop()
            self._set_state("stopping")
            self.status.setText("stopping after this batch (finished trials stay)…")

    def _mine(self, token: int) -> bool:
        return self.worker is not None and token == self.worker.token

    @Slot(int, object)
    def _opened(self, token: int, info) -> None:
        if self._mine(token):
            self.info = info

    @Slot(int, object, object)
    def _records(self, token: int, records, found) -> None:
        if not self._mine(token):
            return
        self.records = records
        if found is not None:
            self.importance = found
        self.redraw()

    @Slot(int, str)
    def _said(self, token: int, text: str) -> None:
        if self._mine(token) and self.state != "stopping":
            self.status.setText(text)

    @Slot(int, int, int, int)
    def _progress(self, token: int, number: int, epoch: int, epochs: int) -> None:
        if self._mine(token) and self.state == "running" and epoch:
            done = sum(1 for r in self.records if r.state in ("complete", "pruned"))
            self.status.setText(f"trial {number} · epoch {epoch}/{epochs} · {done} of "
                                f"{self.trials.value()} trials finished")

    @Slot(int, str)
    def _failed(self, token: int, message: str) -> None:
        if self._mine(token):
            self.show_error(message)

    @Slot(int, object)
    def _finished(self, token: int, result) -> None:
        if not self._mine(token):
            return
        self.worker = None
        self._set_state("idle")
        self.read_space()
        if result is None:   # the error line says why
            self.status.setText("the search ended on an error; its finished trials stay"
                                if self.records else "the search did not start")
            self.searchFinished.emit()
            return
        finished = [r for r in self.records if r.state in ("complete", "pruned")]
        best = self.best()
        n, ran = len(finished), result["ran"]
        if result["interrupted"]:
            text = f"stopped: {n} finished trial{'s' if n != 1 else ''} in the study; Start resumes"
        elif not ran:
            text = f"the study already has its {n} trials: raise Trials to run more"
        else:
            text = f"search finished: {ran} trial{'s' if ran != 1 else ''} run, {n} in the study"
        if best is not None:
            text += f" · best: trial {best.number}, {self.objective_names()[0]} {best.values[0]:.4f}"
        self.status.setText(text)
        self.message.emit(text)
        self.searchFinished.emit()

    # -- reading the trials ---------------------------------------------------------------
    def objective_names(self) -> list[str]:
        first = self.info.get("objective") or self.space.objective
        multi = self.info.get("multi")
        return [first] + ([multi] if multi else [])

    def maximize(self) -> bool:
        directions = self.info.get("directions") or []
        return bool(directions) and directions[0] == "maximize"

    def best(self):
        done = ec.complete(self.records)
        if not done:
            return None
        key = (lambda r: -r.values[0]) if self.maximize() else (lambda r: r.values[0])
        return min(done, key=key)

    def selected_record(self):
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = self.proxy.mapToSource(rows[0]).row()
        return self.model.records[row] if 0 <= row < len(self.model.records) else None

    def select_trial(self, number: int) -> bool:
        for row, r in enumerate(self.model.records):
            if r.number == number:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if not index.isValid():
                    return False
                self.table.selectRow(index.row())
                return True
        return False

    def _run_folder(self, record) -> Path | None:
        if not record.folder or self.document is None:
            return None
        folder = self.document.project.folder / record.folder
        return folder if (folder / "project.wbproj").is_file() else None

    @Slot()
    def _selection_changed(self, *_) -> None:
        self._update_buttons()
        if not self._redrawing:
            self.draw_parallel()

    @Slot()
    def _filter_changed(self, *_) -> None:
        self.proxy.set_filter(self.state_filter.currentData() or "", self.filter.text())
        self._update_buttons()

    # -- actions --------------------------------------------------------------------------
    @Slot()
    def apply_selected(self) -> bool:
        """The selected trial's values into the project: one undo step (Ctrl+Z undoes it)."""
        from workbench.core.graph import GraphError
        from workbench.ui.apply_trial import ApplyTrial
        record = self.selected_record()
        if record is None or self.document is None:
            return False
        self.read_space()
        values = {d.name: record.params[d.name] for d in self.space.space if d.name in record.params}
        if not values:
            self.show_error(f"trial {record.number}: none of its values is in the project's "
                            "search space any more")
            return False
        try:
            command = ApplyTrial(self.document, self.space, values, record.number)
        except (ss.TrialInvalid, ss.SpaceError, GraphError, KeyError) as exc:
            self.show_error(f"cannot apply trial {record.number}: {' '.join(str(exc).split())}")
            return False
        self.document.push(command)
        self.error_label.hide()
        text = ", ".join(f"{k}={ss.describe(self.space.dim(k), v, self.document.graph)}"
                         for k, v in values.items())
        self.message.emit(f"applied trial {record.number}: {text} (Ctrl+Z undoes it)")
        return True

    @Slot()
    def export_selected(self) -> bool:
        record = self.selected_record()
        if record is None:
            return False
        folder = self._run_folder(record)
        if folder is None:
            self.show_error(f"trial {record.number} has no run to export (it stopped before "
                            "training)")
            return False
        self.exportRequested.emit(folder)
        return True

    # -- drawing --------------------------------------------------------------------------
    def redraw(self) -> None:
        selected = self.selected_record()
        graph = self.document.graph if self.document is not None else None
        self._redrawing = True
        try:
            self.model.set_trials(self.records, self.objective_names(), self.space, graph)
            if selected is not None:
                self.select_trial(selected.number)
        finally:
            self._redrawing = False
        maximize = self.maximize()
        ec.draw_best(self.best_plot, self.records, maximize)
        self.draw_parallel()
        directions = self.info.get("directions") or []
        ec.draw_importance(self.importance_plot, self.importance, len(directions))
        ec.draw_pareto(self.pareto_plot, self.records, directions)
        self.tabs.setTabVisible(self.tabs.indexOf(self.pareto_plot), len(directions) > 1)
        self.best_plot.getPlotItem().getAxis("left").setLabel(self.objective_names()[0],
                                                              color=charts.colours()[1])
        if len(directions) > 1:
            names = self.objective_names()
            charts.style_plot(self.pareto_plot, "Pareto front", left=names[1], bottom=names[0])
        self._update_buttons()

    def draw_parallel(self) -> None:
        graph = self.document.graph if self.document is not None else None
        names = [n for n in self.model.names if any(n in r.params for r in self.records)]
        selected = self.selected_record()
        ec.draw_parallel(self.parallel_plot, self.records, names, self.space,
                         self.objective_names()[0], self.maximize(), graph,
                         selected.number if selected is not None else None)

    def restyle(self) -> None:
        for plot in (self.best_plot, self.parallel_plot, self.importance_plot, self.pareto_plot):
            charts.style_plot(plot)
        self.redraw()
