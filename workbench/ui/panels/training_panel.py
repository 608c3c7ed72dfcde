"""The training dashboard: settings, Train / Pause / Resume / Stop, live charts, results.

The trainer runs in a TrainingWorker on its own QThread; its events arrive as queued signals
on `_on_event` (a Slot of this GUI-thread object) and only append to growing arrays. The
charts are created once and redrawn by a 20 Hz timer with `setData` (peak downsampling,
clip-to-view), so a fast run never floods the event loop with drawing.

The settings a search may vary (search_space.SETTINGS, and the optimizer's lr) are marked as
searched from the "⌕ Search" menu under the settings line (the line itself is full: a button
per box squeezed the early-stopping ones); what is searched is listed beside it and a
searched box's label takes the search colour.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QMenu, QProgressBar, QSpinBox, QSplitter,
                               QToolButton, QVBoxLayout, QWidget)

from workbench.core.search_space import SETTINGS, Dim, SpaceError
from workbench.train.compare import run_name
from workbench.ui import charts, search_edit
from workbench.ui.dialogs.search_dialog import summary
from workbench.ui.panels.results_view import ResultsView
from workbench.ui.project_commands import SetTraining, read_training
from workbench.ui.workers import Task, TrainingWorker

REDRAW_MS = 50


class Series:
    """x/y history in arrays that grow by doubling (no per-point reallocation)."""

    def __init__(self, capacity: int = 256):
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def add(self, x: float, y: float | None) -> None:
        if y is None:
            return
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]

    def clear(self) -> None:
        self.n = 0


def clock(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def device_choices() -> list[tuple[str, str]]:
    """(value saved in the project, label): auto, CPU, each CUDA GPU by name, MPS."""
    out = [("auto", "auto (best available)"), ("cpu", "CPU")]
    try:
        import torch
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"cuda:{i} · {torch.cuda.get_device_name(i)}"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            out.append(("mps", "Apple MPS"))
    except Exception:  # noqa: BLE001 - a broken CUDA install leaves CPU
        pass
    return out


PROGRESS_WIDEST = "epoch 1000/1000 · 100% of the run"
SEARCHES = {"epochs": "epochs", "batch_size": "batch size", "lr": "learning rate (the optimizer's)",
            "early_stopping.patience": "early-stopping patience", "grad_clip": "gradient clipping",
            "early_stopping.min_delta": "early-stopping min delta"}


class TrainingPanel(QWidget):
    message = Signal(str)
    stateChanged = Signal(str)          # idle | running | pausing | paused | stopping
    trainingEvent = Signal(object)      # every Event, re-emitted for the insight panel
    runFinished = Signal(object)        # RunResult (or None)

    def __init__(self, threads, parent=None):
        super().__init__(parent)
        self.setObjectName("TrainingPanel")
        self.threads = threads
        self.document = None
        self.worker: TrainingWorker | None = None
        self.state = "idle"
        self.data_source = None          # callable -> PreparedData | None (the data panel's)
        self.runs_root = None            # callable -> Path
        self.last_result = None
        self.run_epochs = 0  # the epoch total of the run going on (the spin box may differ)
        self.error = ""
        self.series = {k: Series() for k in ("train_step", "train", "val", "metric", "lr")}
        self.points_received = 0
        self.metric_name = None
        self.run_folder = None
        self.search_actions = {}       # setting (or "lr") -> its "Search …" action
        self.setting_labels: dict[str, QWidget] = {}       # what takes the search colour
        self._tips: dict[str, str] = {}
        self.search_dialog = None                          # the last range dialog (tests)
        self._dirty = False
        self._settings_shown = False     # the error line shows a bad training setting
        self._build()
        self.setMinimumSize(860, 380)  # smaller docks scroll (see main_window.scrolled)
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.overlays: dict[str, list] = {}
        self._scatter_token = None       # the regression scatter being computed, if any
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            charts.show_empty(plot)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.buttons = QHBoxLayout()
        self.train_button, self.pause_button, self.stop_button = (QToolButton() for _ in range(3))
        for b in (self.train_button, self.pause_button, self.stop_button):
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setMinimumWidth(64)
            self.buttons.addWidget(b)
        self.buttons.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.device = QComboBox()
        for value, label in device_choices():
            self.device.addItem(label, value)
        self.device.currentIndexChanged.connect(self._device_edited)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.epochs.valueChanged.connect(lambda v: self._set("epochs", int(v), "epochs"))
        self.batch = QSpinBox()
        self.batch.setRange(1, 1_000_000)
        self.batch.valueChanged.connect(lambda v: self._set("batch_size", int(v), "batch size"))
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 10.0)
        self.lr.setSingleStep(1e-4)
        self.lr.valueChanged.connect(self._lr_edited)
        self.early = QCheckBox("early stop")
        self.early.setToolTip("Stop when the monitored validation metric has not improved for "
                              "'patience' epochs; the best epoch's weights are kept")
        self.early.toggled.connect(lambda on: self._set("early_stopping.enabled", bool(on),
                                                        "early stopping"))
        self.patience = QSpinBox()
        self.patience.setRange(1, 10_000)
        self.patience.valueChanged.connect(lambda v: self._set("early_stopping.patience", int(v),
                                                               "patience"))
        es = QHBoxLayout()
        es.addWidget(self.early)
        es.addWidget(self.patience)
        self.setting_labels["early_stopping.patience"] = self.early
        del form
        row = self.buttons
        row.takeAt(row.count() - 1)  # the stretch: settings follow the buttons on one line
        row.addSpacing(12)
        for label, w in (("Device", self.device), ("Epochs", self.epochs), ("Batch", self.batch),
                         ("LR", self.lr)):
            text = QLabel(label)
            text.setToolTip({"LR": "learning rate (the optimizer node's lr)"}.get(label, ""))
            row.addWidget(text)
            row.addWidget(w)
            key = {"Epochs": "epochs", "Batch": "batch_size", "LR": "lr"}.get(label)
            if key:
                self.setting_labels[key] = text
        self.patience.setToolTip("patience: epochs without improvement before stopping")
        row.addLayout(es)
        row.addStretch(1)
        self.device.setMinimumContentsLength(6)
        self.device.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("")
        self.status = QLabel("Ready: load data, then Train (F5).")
        self.status.setWordWrap(False)
        self.status.setMinimumWidth(100)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d9534f; font-weight: 600;")
        self.error_label.hide()
        self.search_button = QToolButton()
        self.search_button.setText("⌕ Search")
        self.search_button.setToolTip("Mark a training setting as searched: a search tries a "
                                      "range or a list of values for it")
        self.search_button.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.search_button)
        for key, text in SEARCHES.items():
            self.search_actions[key] = menu.addAction(f"Search {text}…",
                                                      lambda k=key: self.open_search(k))
        self.search_button.setMenu(menu)
        self.search_note = QLabel()   # what a search varies here
        self.search_note.setTextFormat(Qt.PlainText)
        self.search_note.setWordWrap(True)
        self.search_note.setStyleSheet(f"color: {search_edit.MARK_COLOUR};")
        self.search_note.hide()
        searches = QHBoxLayout()
        searches.addWidget(self.search_button)
        searches.addWidget(self.search_note, 1)
        self.sizing = QLabel()   # what the data-size rule chose (core.templates.sized_training)
        self.sizing.setStyleSheet("color: palette(placeholder-text);")
        self.sizing.setWordWrap(True)   # a narrow dock: two lines rather than a cut sentence
        self.sizing.hide()
        # wide enough for its longest text in this font (200 px cut "epoch 5/30 · 15% of the run")
        widest = self.progress.fontMetrics().horizontalAdvance(PROGRESS_WIDEST) + 32
        self.progress.setMinimumWidth(max(200, widest))
        self.progress.setMaximumWidth(max(320, widest))
        line = QHBoxLayout()
        line.addWidget(self.progress)
        line.addWidget(self.status, 1)
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(self.buttons)
        cl.addLayout(line)
        cl.addLayout(searches)
        cl.addWidget(self.sizing)
        cl.addWidget(self.error_label)

        self.loss_plot = charts.make_plot("Loss", bottom="epoch")
        self.metric_plot = charts.make_plot("Validation metric", bottom="epoch")
        self.lr_plot = charts.make_plot("Learning rate", bottom="epoch")
        lp, mp, rp = (p.getPlotItem() for p in (self.loss_plot, self.metric_plot, self.lr_plot))
        charts.add_legend(lp)
        self.curves = {
            "train_step": charts.make_curve(lp, charts.SERIES["train"], "train (steps)", 1.2),
            "train": charts.make_curve(lp, "#1b4f96", "train (epoch)", 1.6, symbol="o"),
            "val": charts.make_curve(lp, charts.SERIES["val"], "validation", 1.8, symbol="o"),
            "metric": charts.make_curve(mp, charts.SERIES["test"], None, 1.8, symbol="o"),
            "lr": charts.make_curve(rp, charts.SERIES["lr"], None, 1.6),
        }
        self.results = ResultsView()
        grid = QWidget()
        g = QGridLayout(grid)
        g.setContentsMargins(0, 0, 0, 0)
        g.addWidget(self.loss_plot, 0, 0)
        g.addWidget(self.metric_plot, 0, 1)
        g.addWidget(self.lr_plot, 0, 2)
        g.setColumnStretch(0, 3)
        g.setColumnStretch(1, 2)
        g.setColumnStretch(2, 2)
        right = QSplitter(Qt.Vertical)
        right.addWidget(grid)
        right.addWidget(self.results)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(controls)
        lay.addWidget(right, 1)

    def bind_actions(self, train, pause, stop) -> None:
        """The window's Run › Train/Pause/Stop actions drive these buttons too."""
        self.actions = {"train": train, "pause": pause, "stop": stop}
        self.train_button.setDefaultAction(train)
        self.pause_button.setDefaultAction(pause)
        self.stop_button.setDefaultAction(stop)
        train.triggered.connect(self.train)
        pause.triggered.connect(self.toggle_pause)
        stop.triggered.connect(self.stop)
        self._set_state("idle")

    # -- document / settings --------------------------------------------------------------
    def set_document(self, document) -> None:
        """A new document: its settings, and a dashboard with nothing of the last run."""
        if self.document is not None:
            self.document.trainingChanged.disconnect(self.show_settings)
            self.document.dataChanged.disconnect(self.show_sizing)
            self.document.analysed.disconnect(self._analysed)
            self.document.searchChanged.disconnect(self.show_search)
        self.document = document
        document.trainingChanged.connect(self.show_settings)
        document.searchChanged.connect(self.show_search)
        document.dataChanged.connect(self.show_sizing)
        document.analysed.connect(self._analysed)
        self.clear()
        self.show_settings()

    def clear(self) -> None:
        """Forget the last run: charts, results, overlays, progress, errors."""
        self.timer.stop()
        self.set_overlays([])
        self.reset_charts()
        self.last_result, self.run_folder, self.error, self.metric_name = None, None, "", None
        self._scatter_token = None
        self.metric_plot.getPlotItem().setTitle("Validation metric", size="9pt",
                                                color=charts.colours()[1])
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.error_label.hide()
        self._settings_shown = False
        self.status.setText("Ready: load data, then Train (F5).")
        self._empty_charts = True       # drawn as empty frames until a run sends points

    def _optimizer(self):
        from workbench.core.spec import OPTIMIZER_ROLE
        return next((n for n in self.document.graph.nodes.values()
                     if n.spec and n.spec.role == OPTIMIZER_ROLE), None)

    @Slot()
    def show_settings(self) -> None:
        t, found = read_training(self.document.project.training)
        widgets = (self.device, self.epochs, self.batch, self.lr, self.early, self.patience)
        blockers = [QSignalBlocker(w) for w in widgets]
        i = self.device.findData(t.device)
        if i < 0:
            self.device.addItem(f"{t.device} (not on this machine)", t.device)
            i = self.device.count() - 1
        self.device.setCurrentIndex(i)
        self.epochs.setValue(t.epochs)
        self.batch.setValue(t.batch_size)
        self.early.setChecked(t.early_stopping.enabled)
        self.patience.setValue(t.early_stopping.patience)
        self.show_settings_problems(found)
        opt = self._optimizer()
        has_lr = opt is not None and "lr" in opt.params
        self.lr.setEnabled(has_lr)
        self.lr.setSpecialValueText("" if has_lr else "—")  # no optimizer: no rate to show
        if has_lr:
            self.lr.setValue(float(opt.params["lr"]))
        else:
            self.lr.setValue(self.lr.minimum())
        del blockers
        self.show_search()
        if getattr(self, "_empty_charts", True):
            for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
                charts.show_empty(plot, self.epochs.value())
        self.show_sizing()

    @Slot()
    def show_sizing(self) -> None:
        """Say what the data-size rule gives for the loaded data, and whether these settings
        are it (File › New sizes untouched settings when data loads; `workbench new` too)."""
        from workbench.core import templates
        data = self.data_source() if self.data_source else None
        if data is None or self.document is None:
            self.sizing.hide()
            return
        mine, found = read_training(self.document.project.training)
        rule = read_training(templates.apply_sizing(mine.to_dict(), data.rows, data.task))[0]
        text = templates.describe_sizing(data.rows, data.task)
        same = not found and (mine.epochs, mine.batch_size, mine.early_stopping) == (
            rule.epochs, rule.batch_size, rule.early_stopping)
        self.sizing.setText(text if same else f"the data-size rule gives: {text[0].lower()}"
                            f"{text[1:]} (these settings differ: the template's or yours)")
        self.sizing.show()

    @Slot(object)
    def _analysed(self, _analysis) -> None:
        opt = self._optimizer()
        self.show_search()    # a searched node gone, an optimizer come: the marks follow
        if (opt is not None and "lr" in opt.params) == (self.lr.specialValueText() == "—"):
            self.show_settings()   # an optimizer came or went: its rate shows, or '—'
            if self.state != "idle":
                self.lr.setEnabled(False)
            return
        if opt is not None and "lr" in opt.params and abs(self.lr.value() - float(opt.params["lr"])) > 1e-12:
            with QSignalBlocker(self.lr):
                self.lr.setValue(float(opt.params["lr"]))

    # -- searched settings ----------------------------------------------------------------
    def _target(self, key: str) -> Dim | None:
        if key == "lr":
            opt = self._optimizer()
            return Dim("", "float", node=opt.id, param="lr") if opt is not None and "lr" in opt.params else None
        return Dim("", SETTINGS[key], setting=key)

    def open_search(self, key: str):
        """The range dialog for a training setting (or "lr": the optimizer node's)."""
        target = self._target(key) if self.document is not None else None
        if target is None:
            self.message.emit("no optimizer with a learning rate to search")
            return None
        try:
            self.search_dialog = search_edit.open_search(self.document, target, self)
        except SpaceError as exc:
            self.message.emit(f"the project's search cannot be read, fix it in the file first: {exc}")
            return None
        return self.search_dialog

    @Slot()
    def show_search(self) -> None:
        if self.document is None:
            return
        space = search_edit.space_of(self.document)
        graph = self.document.graph
        parts = []
        for key in SEARCHES:
            t = self._target(key)
            d = None if t is None else (space.setting_dim(key) if t.setting else space.targeting(t.node, "lr"))
            if d is not None:
                parts.append(key + summary(d, graph).removeprefix("searched"))
            self.search_actions[key].setEnabled(t is not None)
            self.search_actions[key].setText(f"Search {SEARCHES[key]}…" + (" ⌕" if d else ""))
            label = self.setting_labels.get(key)
            if label is not None:
                label.setStyleSheet(f"color: {search_edit.MARK_COLOUR}" if d else "")
                tip = self._tips.setdefault(key, label.toolTip())   # its own, before any mark
                label.setToolTip("\n".join(t for t in (tip, summary(d, graph) if d else "") if t))
        self.search_note.setText("⌕ searched: " + " · ".join(parts) if parts else "")
        self.search_note.setVisible(bool(parts))

    def _set(self, key: str, value, label: str) -> None:
        if self.document is not None:
            self.document.push(SetTraining(self.document, key, value, label))

    @Slot(int)
    def _device_edited(self, _index: int) -> None:
        self._set("device", self.device.currentData(), "device")

    @Slot(float)
    def _lr_edited(self, value: float) -> None:
        from workbench.core.graph import GraphError
        from workbench.ui.editor.commands import SetParams
        opt = self._optimizer()
        if opt is None:
            return
        try:
            self.document.push(SetParams(self.document.graph, [opt.id], "lr", float(value)))
        except GraphError as exc:
            self.message.emit(str(exc))

    # -- running --------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        running = state != "idle"
        a = getattr(self, "actions", None)
        if a:
            a["train"].setEnabled(not running)
            a["pause"].setEnabled(state in ("running", "paused"))
            a["pause"].setText("&Resume" if state == "paused" else "&Pause")
            a["stop"].setEnabled(state in ("running", "paused", "pausing"))
        for w in (self.device, self.epochs, self.batch, self.lr, self.early, self.patience):
            w.setEnabled(not running)
        self.stateChanged.emit(state)

    def show_settings_problems(self, found: list[str]) -> None:
        """A bad value in the project file (`"epochs": "ten"`): its box shows the default, and
        this says so until the value is set (Train refuses meanwhile)."""
        if found:
            more = f" (and {len(found) - 1} more: see the Problems panel)" if len(found) > 1 else ""
            self.error_label.setText(f"⚠ {found[0]}{more}; the box shows the default until "
                                     f"you set it")
            self.error_label.setToolTip("\n".join(found))
            self.error_label.show()
            self._settings_shown = True
        elif self._settings_shown:   # set right now: the note (or Train's refusal) goes
            self.error_label.hide()
            self._settings_shown = False

    def show_error(self, message: str) -> None:
        self._settings_shown = False
        self.error = message
        self.error_label.setText(f"⚠ {message}")
        self.error_label.setToolTip(message)
        self.error_label.show()
        self.message.emit(message)

    @Slot()
    def train(self) -> bool:
        from workbench.train.device import DeviceError
        from workbench.train.runs import new_run_folder
        from workbench.train.trainer import Trainer, TrainingError
        if self.state != "idle" or self.document is None:
            return False
        self.error_label.hide()
        found = read_training(self.document.project.training)[1]
        if found:
            self.show_error(f"cannot train: {found[0]}")
            self._settings_shown = True
            return False
        data = self.data_source() if self.data_source else None
        if data is None:
            self.show_error("no data to train on: open a data file in the Data panel first"
                            if not self.document.project.data.get("path")
                            else "the data is still loading (or failed to load): see the Data panel")
            return False
        analysis = self.document.validate_now()
        if not analysis.valid:
            self.show_error(f"the graph has {analysis.summary()}: see the Problems panel")
            return False
        try:
            folder = new_run_folder(self.document.project, self.runs_root())
            trainer = Trainer(self.document.project, data, run_dir=folder)
        except (TrainingError, DeviceError, OSError) as exc:
            self.show_error(str(exc))
            return False
        self.reset_charts()
        self._empty_charts = False
        self.run_folder = folder
        self.worker = TrainingWorker(trainer)
        self.worker.event.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self._set_state("running")
        self.status.setText("starting…")
        self.threads.start(self.worker)
        self.timer.start()
        return True

    @Slot()
    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.state == "running":
            self.worker.pause()
            self._set_state("pausing")
            self.status.setText("pausing after this batch…")
        elif self.state == "paused":
            self.worker.resume()
            self._set_state("running")

    @Slot()
    def stop(self) -> None:
        if self.worker is not None and self.state in ("running", "paused", "pausing"):
            self.worker.stop()
            self._set_state("stopping")
            self.status.setText("stopping after this batch (the last epoch's checkpoint stays)…")

    def set_epoch_range(self, epochs: int) -> None:
        """The x axes show the whole run from the start; y follows the data."""
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            vb = plot.getPlotItem().getViewBox()
            vb.setXRange(0, max(int(epochs), 1), padding=0.02)
            vb.enableAutoRange(axis="y")

    def reset_charts(self) -> None:
        for s in self.series.values():
            s.clear()
        self.points_received = 0
        self.run_epochs = 0
        self.results.clear()
        self._dirty = True
        self.redraw()

    # -- events from the worker -----------------------------------------------------------
    @Slot(object)
    def _on_event(self, e) -> None:
        self.trainingEvent.emit(e)
        spe = (e.steps / e.epochs) if e.steps and e.epochs else None
        if e.kind == "start":
            self.status.setText(e.message)
            self.metric_name = None
            self.set_epoch_range(e.epochs)
        elif e.kind == "step" and spe:
            x = e.step / spe
            self.series["train_step"].add(x, _finite(e.train_loss))
            self.series["lr"].add(x, e.lr)
            self.points_received += 1
            self._progress(e)
        elif e.kind == "epoch":
            # step events are thinned in time: a fast run's last ones come long before its end,
            # so every epoch also carries the rate on, or the chart stops at a third of the run
            self.series["lr"].add(e.step / spe if spe else e.epoch, e.lr)
            self.series["train"].add(e.epoch, _finite(e.train_loss))
            self.series["lr"].add(e.epoch, e.lr)  # a run quicker than the step-event rate has no steps
            self.series["val"].add(e.epoch, _finite(e.val_loss))
            val = (e.metrics or {}).get("val", {})
            name = next((m for m in ("accuracy", "r2") if m in val), None)
            if name:
                if self.metric_name != name:
                    self.metric_name = name
                    self.metric_plot.getPlotItem().setTitle(f"Validation {name}", size="9pt",
                                                            color=charts.colours()[1])
                self.series["metric"].add(e.epoch, _finite(val[name]))
            self.points_received += 1
            self._progress(e)
        elif e.kind == "paused":
            self._set_state("paused")
            self.status.setText(f"{e.message} — Resume (F6) continues, Stop ends the run")
        elif e.kind == "resumed":
            if self.state != "stopping":
                self._set_state("running")
            self.status.setText(e.message)
        elif e.kind == "stopped":
            self.status.setText(e.message)
        elif e.kind == "error":
            self.show_error(e.message)
        elif e.kind == "end":
            self.progress.setValue(self.progress.maximum() if e.epoch == e.epochs else self.progress.value())
        self._dirty = True

    def _progress(self, e) -> None:
        self.run_epochs = e.epochs
        if e.steps:
            self.progress.setValue(int(1000 * e.step / e.steps))
            self.progress.setFormat(f"epoch {e.epoch}/{e.epochs} · {e.step / e.steps:.0%} of the run")
        rate = f"{e.samples_per_s:,.0f} samples/s" if e.samples_per_s else "— samples/s"
        loss = f"loss {e.train_loss:.4f}" if e.train_loss is not None else ""
        self.status.setText(f"epoch {e.epoch}/{e.epochs} · step {e.step:,}/{e.steps:,} · {rate} · "
                            f"ETA {clock(e.eta_s)} · {loss}")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.show_error(message)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.timer.stop()
        self._dirty = True
        self.redraw()
        self.worker = None
        self.last_result = result
        self._set_state("idle")
        if result is None:
            self.runFinished.emit(None)
            return
        s = result.summary
        text = {"completed": "completed", "early_stopped": "stopped early", "stopped": "stopped",
                "failed": "FAILED"}.get(result.status, result.status)
        caption = (f"Run {result.folder.name if result.folder else ''}: {text} after "
                   f"{s.get('epochs_run', 0)} epochs · weights {s.get('weights', '—')} · "
                   f"{s.get('time_s', 0):.1f} s")
        if result.status == "failed" and s.get("epochs_run"):
            caption += " · the last good checkpoint is kept"
        if result.status in ("completed", "early_stopped"):  # the run is over: a full bar
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(f"{text} · epoch {s.get('epochs_run', 0)}/{self.run_epochs or self.epochs.value()}")
        self.results.show_summary(s, caption)
        self.status.setText(f"{text} · {_headline(s)}" + (f"\n{result.message}" if result.message
                                                           and result.status != "completed" else ""))
        if result.status != "failed":
            self.message.emit(f"training {text}: " + _headline(s))
        if s.get("task") == "regression" and result.model is not None:
            self._scatter(result)
        self.runFinished.emit(result)

    def _scatter(self, result) -> None:
        data = self.data_source() if self.data_source else None
        split = getattr(data, "test", None) or getattr(data, "val", None)
        if split is None or len(split) == 0:
            return
        module = result.model.module

        def job(report, cancelled):
            import torch
            with torch.no_grad():
                dev = next(module.parameters()).device
                out = module(split.x[:5000].to(dev))
            out = out[0] if isinstance(out, (tuple, list)) else out
            return out.cpu().numpy(), split.y[:5000].cpu().numpy()

        self._scatter_task = Task(job)
        self._scatter_task.done.connect(self._scatter_done)
        self._scatter_token = self._scatter_task.token
        self.threads.start(self._scatter_task)

    @Slot(int, object)
    def _scatter_done(self, token: int, value) -> None:
        if token != self._scatter_token:   # another document (or run) came meanwhile
            return
        self.results.show_scatter(*value)

    # -- drawing --------------------------------------------------------------------------
    @Slot()
    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for key, curve in self.curves.items():
            x, y = self.series[key].data()
            curve.setData(x, y)
        _, lr = self.series["lr"].data()
        if len(lr):
            lo, hi = float(lr.min()), float(lr.max())
            if hi - lo <= 1e-3 * max(abs(hi), 1e-12):  # constant: a readable band around it
                self.lr_plot.getPlotItem().getViewBox().setYRange(lo * 0.8, hi * 1.2, padding=0)
            else:
                self.lr_plot.getPlotItem().getViewBox().enableAutoRange(axis="y")

    # -- overlays of other runs -----------------------------------------------------------
    def set_overlays(self, folders: list[Path]) -> None:
        from workbench.train.runs import read_events
        wanted = {str(f) for f in folders}
        for key in [k for k in self.overlays if k not in wanted]:
            for plot, curve in self.overlays.pop(key):
                plot.removeItem(curve)
        for i, folder in enumerate(folders):
            if str(folder) in self.overlays:
                continue
            epochs = [e for e in read_events(folder) if e.get("kind") == "epoch"]
            colour = charts.OVERLAY[i % len(charts.OVERLAY)]
            lp, mp = self.loss_plot.getPlotItem(), self.metric_plot.getPlotItem()
            name = html.escape(run_name(folder))     # the legend renders markup
            val = charts.make_curve(lp, colour, f"{name} val", 1.2, dash=True)
            val.setData([e["epoch"] for e in epochs if e.get("val_loss") is not None],
                        [e["val_loss"] for e in epochs if e.get("val_loss") is not None])
            metric = charts.make_curve(mp, colour, None, 1.2, dash=True)
            pts = [(e["epoch"], m) for e in epochs for m in [_metric(e)] if m is not None]
            metric.setData([p[0] for p in pts], [p[1] for p in pts])
            self.overlays[str(folder)] = [(lp, val), (mp, metric)]
        if folders:   # the overlays decide the range (an empty frame would hide them)
            for plot in (self.loss_plot, self.metric_plot):
                plot.getPlotItem().getViewBox().enableAutoRange()


def _metric(e: dict):
    val = (e.get("metrics") or {}).get("val") or {}
    return val.get("accuracy", val.get("r2"))


def _finite(v):
    return v if v is not None and math.isfinite(v) else None


def _headline(summary: dict) -> str:
    """The kept epoch, why, and the figures on val and test: the CLI's last line."""
    from workbench.train.verdict import headline
    return headline(summary)
