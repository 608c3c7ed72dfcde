"""The Data panel: open a CSV/TSV/TXT file, preview it, choose column types and roles,
preprocessing and splits; see missing values and the class balance.

Loading runs in a worker thread (read → describe → prepare tensors) with progress and Cancel.
A load the user asked for ends in one undoable step (`SetData`): the settings go into
`project.data` and the Input/Target nodes take the data's shapes and class count, so the
canvas re-validates. A bad file shows the data layer's one-line message here, in red.
"""
from __future__ import annotations

import copy
import html
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView,
                               QFrame, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QSpinBox, QSplitter, QTableView, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

import pyqtgraph as pg

from workbench.data import DataError, DataSettings
from workbench.data.fitted import DataFit
from workbench.data.settings import (AUGMENT_LIMITS, CACHE, CATEGORICAL, IMAGE_CHANNELS,
                                     IMAGE_MODES, MISSING, NUMERIC, ROLES, TASKS, TYPES)
from workbench.ui import charts
from workbench.ui.panels.focus_wheel import wheel_when_focused
from workbench.ui.panels.frame_model import FrameModel
from workbench.ui.project_commands import SetData
from workbench.ui.workers import Task

ONE_INPUT = "(one input)"


def regrouped(inputs: list[dict], column: str, name: str) -> list[dict]:
    """The input groups with `column` moved to the group `name` (made at the end when new;
    ONE_INPUT or "" takes it out); groups left empty go."""
    out = [{"name": g["name"], "columns": [c for c in g["columns"] if c != column]}
           for g in inputs]
    if name and name != ONE_INPUT:
        group = next((g for g in out if g["name"] == name), None)
        if group is None:
            group = {"name": name, "columns": []}
            out.append(group)
        group["columns"].append(column)
    return [g for g in out if g["columns"]]


DATA_FILTER = "Data files (*.csv *.tsv *.txt *.tab *.data);;All files (*)"
BARS_SHOWN = 50  # the class-balance chart shows at most this many classes


@dataclass
class Loaded:
    settings: dict          # DataSettings.to_dict() this was loaded with
    df: object              # the training file's DataFrame (preview)
    schema: object          # workbench.data.Schema
    prepared: object        # workbench.data.PreparedData
    seconds: float
    thumbs: list = None     # image data: [(class, path, uint8 C×H×W)] for the grids


def load_job(settings: dict, base_dir: Path):
    """The worker's function: read, describe and prepare, reading the file once (`prepare`
    hands back the frame and schema it read); raises DataError on bad input."""
    def job(report, cancelled):
        from workbench.data import prepare
        t0 = time.perf_counter()
        s = DataSettings.from_dict(settings)
        report(5, f"reading {Path(s.path).name}, then fitting transforms on the training split")
        prepared = prepare(s, base_dir, keep_frame=True)
        df, prepared.frame = prepared.frame, None  # the preview keeps it; training does not
        thumbs = _thumbnails(df, prepared, s, base_dir)
        report(100, "done")
        return Loaded(s.to_dict(), df, prepared.schema, prepared, time.perf_counter() - t0,
                      thumbs)
    return job


THUMBS_PER_CLASS = 6


def _thumbnails(df, prepared, settings: DataSettings, base_dir: Path) -> list:
    """A few decoded images per class of the first image input (off the UI thread)."""
    entry = next((e for e in prepared.preprocessor.inputs if e["kind"] == "image"), None)
    if entry is None or prepared.schema is None:
        return []
    from workbench.data import images
    from workbench.data.prepared import _base_of, _resolve

    base = _base_of(_resolve(base_dir, settings.path))
    labels = prepared.schema.target if prepared.task == "classification" else \
        ["all"] * len(df)
    return images.thumbnails(df, entry["image"]["column"], Path(base), entry["image"],
                             THUMBS_PER_CLASS, labels)


class DataPanel(QWidget):
    message = Signal(str)
    loadedChanged = Signal()

    def __init__(self, threads, parent=None):
        super().__init__(parent)
        self.setObjectName("DataPanel")
        self.threads = threads
        self.document = None
        self.loaded: Loaded | None = None
        self.task: Task | None = None
        self._apply = False
        self._pending: dict | None = None
        self._options_timer = QTimer(self, singleShot=True, interval=350)
        self._options_timer.timeout.connect(self._options_changed)
        self._build()
        self.setMinimumSize(760, 380)  # smaller docks scroll (see workflow.scrolled)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        top = QHBoxLayout()
        self.open_button = QPushButton("Open Data…")
        self.open_button.setToolTip("Open a CSV, TSV or TXT file (or drop one onto the window)")
        self.open_button.clicked.connect(self.choose_file)
        self.folder_button = QPushButton("Open Folder…")
        self.folder_button.setToolTip("A folder of images: one sub-folder per class (optionally "
                                      "inside train/, val/ and test/)")
        self.folder_button.clicked.connect(self.choose_folder)
        self.test_button = QPushButton("Test File…")
        self.test_button.setToolTip("A separate test file (same columns), e.g. test.txt")
        self.test_button.clicked.connect(self.choose_test_file)
        self.clear_test = QPushButton("✕")
        self.clear_test.setToolTip("Use a share of the training file as the test split instead")
        self.clear_test.setFixedWidth(28)
        self.clear_test.clicked.connect(lambda: self.set_test_file(""))
        self.file_label = QLabel("No data yet: open a file, or drop one onto the window.")
        self.file_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.open_button, self.folder_button, self.test_button, self.clear_test):
            top.addWidget(w)
        top.addWidget(self.file_label, 1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        self._busy(False)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d9534f; font-weight: 600;")
        self.error_label.hide()
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.warn_label = QLabel()
        self.warn_label.setWordWrap(True)
        self.warn_label.setStyleSheet("color: #b7791f;")
        self.warn_label.hide()

        self.model = FrameModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        vh = self.table.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)
        vh.setDefaultSectionSize(22)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setDefaultSectionSize(140)
        hh.setStretchLastSection(True)

        self.columns = QTableWidget(0, 7)
        self.columns.setHorizontalHeaderLabels(["Column", "Type", "Role", "Input", "Missing",
                                                "Distinct", "Note"])
        self.columns.verticalHeader().hide()
        self.columns.setEditTriggers(QAbstractItemView.NoEditTriggers)
        ch = self.columns.horizontalHeader()
        ch.setSectionResizeMode(QHeaderView.ResizeToContents)
        ch.setStretchLastSection(True)

        self.balance = charts.make_plot("Class balance (training file)", bottom="rows")
        self.balance.setMinimumWidth(260)
        self.balance.setMinimumHeight(200)
        self.bars: pg.BarGraphItem | None = None

        left = QSplitter(Qt.Vertical)
        left.addWidget(self.table)
        left.addWidget(self.columns)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        left.setSizes([250, 350])  # the role table, what a user edits, gets the larger part
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.balance)
        right.addWidget(self._images_box())
        right.addWidget(self._options_box())
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 0)
        # the options and the chart scroll on their own: their height no longer sets the
        # panel's, so in a 400 px dock the role table keeps its rows on screen
        right_area = QScrollArea()
        right_area.setWidget(right)
        right_area.setWidgetResizable(True)
        right_area.setFrameShape(QFrame.NoFrame)
        body = QSplitter(Qt.Horizontal)
        body.addWidget(left)
        body.addWidget(right_area)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([600, 400])
        self.body = body

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.error_label)
        lay.addWidget(self.info_label)
        lay.addWidget(self.warn_label)
        lay.addWidget(body, 1)
        self._enable_options(False)

    def _images_box(self) -> QWidget:
        """Image data: thumbnails per class, and what the augmentations make of a few of
        them (Re-draw for other random draws)."""
        from workbench.ui.panels.image_grids import AugmentationGrid, ThumbnailGrid

        box = QGroupBox("Images")
        lay = QVBoxLayout(box)
        self.thumbs = ThumbnailGrid()
        self.thumbs.setMinimumHeight(240)      # two classes on screen; the rest scroll
        self.aug_grid = AugmentationGrid()
        self.aug_grid.setMinimumHeight(340)    # four samples × their augmentations
        lay.addWidget(QLabel("Per class (training file)"))
        lay.addWidget(self.thumbs)
        lay.addWidget(QLabel("What the model sees: augmentations of training images"))
        lay.addWidget(self.aug_grid)
        self.images_box = box
        box.hide()
        return box

    def _show_images(self, loaded: Loaded) -> None:
        import numpy as np

        p = loaded.prepared
        entry = next((e for e in p.preprocessor.inputs if e["kind"] == "image"), None)
        thumbs = loaded.thumbs or []
        self.images_box.setVisible(entry is not None and bool(thumbs))
        if entry is None or not thumbs:
            return
        counts = loaded.schema.classes or [("all", loaded.schema.rows)]
        self.thumbs.set_images(thumbs, counts)
        firsts = list({label: a for label, _, a in reversed(thumbs)}.values())[:4]
        self.aug_grid.set_images(np.stack(firsts), entry["image"]["mean"], entry["image"]["std"])
        self.aug_grid.set_options(loaded.settings["augment"])

    def _options_box(self) -> QWidget:
        box = QGroupBox("Preprocessing and splits")
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.opt: dict[str, QWidget] = {}

        def combo(key, choices, label, tip=""):
            w = QComboBox()
            w.addItems(list(choices))
            w.setToolTip(tip)
            w.currentTextChanged.connect(self._schedule)
            wheel_when_focused(w)
            self.opt[key] = w
            form.addRow(label, w)

        combo("task", TASKS, "Task", "auto: classification for a class-like target, else regression")
        combo("numeric", NUMERIC, "Numbers", "scaling fitted on the training split only")
        combo("missing", MISSING, "Missing values")
        combo("categorical", CATEGORICAL, "Categories")
        maxlen = QSpinBox()
        maxlen.setRange(0, 100_000)
        maxlen.setSpecialValueText("auto")
        maxlen.setToolTip("tokens per text (0 = auto: long enough for most texts)")
        maxlen.valueChanged.connect(self._schedule)
        self.opt["text.max_len"] = maxlen
        form.addRow("Text length", maxlen)
        for key, label in (("split.val", "Validation share"), ("split.test", "Test share")):
            w = QDoubleSpinBox()
            w.setRange(0.0, 0.9)
            w.setSingleStep(0.05)
            w.setDecimals(2)
            w.valueChanged.connect(self._schedule)
            self.opt[key] = w
            form.addRow(label, w)
        seed = QSpinBox()
        seed.setRange(0, 2**31 - 1)
        seed.valueChanged.connect(self._schedule)
        self.opt["split.seed"] = seed
        form.addRow("Split seed", seed)
        wheel_when_focused(maxlen, seed, self.opt["split.val"], self.opt["split.test"])
        strat = QCheckBox("stratified by class")
        strat.toggled.connect(self._schedule)
        self.opt["split.stratify"] = strat
        form.addRow("", strat)
        # Not a data setting: it sets the losses' class_weight (one undoable graph edit), here
        # because this is where the class balance and its warning are seen.
        self.weigh = QCheckBox("weigh the loss by class rarity")
        self.weigh.setToolTip("Sets class_weight = balanced on the CrossEntropy/NLL losses: each class "
                              "counts as much as the others however few rows it has. For a class "
                              "under ~10 % of the rows.")
        self.weigh.toggled.connect(self._weigh_toggled)
        form.addRow("Classes", self.weigh)
        self._image_options(form, combo)
        return box

    def _image_options(self, form: QFormLayout, combo) -> None:
        """Image size, resize mode, channels and caching, and the augmentations (the preview
        grid shows what they do). Shown for data with an image input only."""
        first = form.rowCount()
        for key, label in (("image.height", "Image height"), ("image.width", "Image width")):
            w = QSpinBox()
            w.setRange(0, 4096)
            w.setSpecialValueText("auto")
            w.setToolTip("pixels (auto: the images' most common size, at most 64)")
            w.valueChanged.connect(self._schedule)
            wheel_when_focused(w)
            self.opt[key] = w
            form.addRow(label, w)
        combo("image.mode", IMAGE_MODES, "Resize", "resize: stretch; crop: fill and cut the centre; "
              "pad: fit and pad with black")
        combo("image.channels", IMAGE_CHANNELS, "Channels", "auto: RGB when any image has colour")
        combo("image.cache", CACHE, "Image cache", "memory: decode once; stream: decode each "
              "batch in worker processes (for folders larger than memory)")
        tips = {"flip": "probability of a horizontal flip", "vflip": "probability of a vertical flip",
                "rotate": "largest rotation, degrees", "crop": "largest share of the area cut away",
                "jitter": "brightness/contrast/saturation strength", "cutout": "probability of "
                "one erased square"}
        for key, top in AUGMENT_LIMITS.items():
            w = QDoubleSpinBox()
            w.setRange(0.0, top)
            w.setSingleStep(0.05 if top <= 1 else 5.0)
            w.setDecimals(2 if top <= 1 else 0)
            w.setToolTip(f"{tips[key]} (training batches only; 0 = off)")
            w.valueChanged.connect(self._schedule)
            wheel_when_focused(w)
            self.opt[f"augment.{key}"] = w
            form.addRow(f"Augment: {key}", w)
        self.image_rows = list(range(first, form.rowCount()))
        self.options_form = form
        self._show_image_options(False)

    def _show_image_options(self, on: bool) -> None:
        for row in self.image_rows:
            self.options_form.setRowVisible(row, on)

    @Slot(bool)
    def _weigh_toggled(self, on: bool) -> None:
        from workbench.data.balance import class_weight_changes
        from workbench.ui.editor.commands import SetParams
        if self.document is None:
            return
        changes = class_weight_changes(self.document.graph, "balanced" if on else "none")
        if changes:
            self.document.push(SetParams(self.document.graph, [c[0] for c in changes], "class_weight",
                                         changes[0][3]))
            self.message.emit("class weights " + ("balanced: rare classes count as much as common ones"
                                                  if on else "off"))

    def _sync_weigh(self, *_) -> None:
        """The check box shows the graph: ticked when every class-weighing loss is balanced."""
        graph = self.document.graph if self.document is not None else None
        losses = [n for n in graph.nodes.values() if "class_weight" in n.params] if graph else []
        classify = self.loaded is not None and self.loaded.prepared.task == "classification"
        with QSignalBlocker(self.weigh):
            self.weigh.setChecked(bool(losses) and all(n.params["class_weight"] == "balanced"
                                                       for n in losses))
        self.weigh.setEnabled(bool(losses) and classify)

    # -- document -------------------------------------------------------------------------
    def set_document(self, document) -> None:
        if self.document is not None:
            self.document.dataChanged.disconnect(self._data_changed)
            self.document.graph.unsubscribe(self._sync_weigh)
        self.cancel()
        self.document = document
        document.graph.subscribe(self._sync_weigh)
        document.dataChanged.connect(self._data_changed)
        document.data_fit = DataFit(self.prepared_for_project)  # new nodes fit the data
        self.loaded = None
        self._show_loaded(None)
        if document.project.data.get("path"):
            self.load(document.project.data, apply=False)

    @property
    def base_dir(self) -> Path:
        return self.document.project.folder

    def prepared_for_project(self):
        """PreparedData matching the project's current data settings, or None."""
        if self.loaded is None or self.document is None:
            return None
        try:
            current = DataSettings.from_dict(self.document.project.data).to_dict()
        except DataError:
            return None
        return self.loaded.prepared if current == self.loaded.settings else None

    @Slot()
    def _data_changed(self) -> None:
        """Undo/redo changed project.data: show (and prepare) what it says now."""
        data = self.document.project.data
        if self.loaded is not None and data == self.loaded.settings:
            self._fill_options(data)
            return
        if data.get("path"):
            self.load(data, apply=False)
        else:
            self.loaded = None
            self._show_loaded(None)

    # -- choosing files -------------------------------------------------------------------
    def ask_data_path(self, title: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, str(self.base_dir), DATA_FILTER)
        return path

    def _stored(self, path: str) -> str:
        """Relative to the project folder when the project has been saved, else absolute."""
        p = Path(path).resolve()
        if self.document.project.path is not None:
            try:
                return os.path.relpath(p, self.document.project.folder.resolve())
            except ValueError:  # another drive (Windows)
                return str(p)
        return str(p)

    def current_settings(self) -> dict:
        base = self.loaded.settings if self.loaded else self.document.project.data
        try:
            return DataSettings.from_dict(base).to_dict()
        except DataError:
            return DataSettings().to_dict()

    def choose_file(self) -> None:
        path = self.ask_data_path("Open data")
        if path:
            self.open_file(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open image folder", str(self.base_dir))
        if path:
            self.open_file(path)

    def choose_test_file(self) -> None:
        path = self.ask_data_path("Open test data")
        if path:
            self.set_test_file(path)

    def open_file(self, path: str) -> None:
        """A new training file: columns may differ, so roles, types and target start afresh."""
        s = self.current_settings()
        s.update(path=self._stored(path), test_path="", target="", roles={}, types={})
        self.load(s, apply=True)

    def set_test_file(self, path: str) -> None:
        s = self.current_settings()
        if not s.get("path"):
            self.show_error("open the training file first")
            return
        s["test_path"] = self._stored(path) if path else ""
        self.load(s, apply=True)

    # -- loading --------------------------------------------------------------------------
    def load(self, settings: dict, apply: bool = True) -> None:
        if self.task is not None:
            self.task.cancel()
        self._apply = apply
        self._pending = copy.deepcopy(settings)
        task = Task(load_job(self._pending, self.base_dir), expected=(DataError, OSError))
        self.task = task
        task.progress.connect(self._on_progress)
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        self._busy(True)
        self.progress.setValue(0)
        self.progress.setFormat(f"loading {Path(settings.get('path', '')).name}…")
        self.error_label.hide()
        self.threads.start(task)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
            self._busy(False)
            self.message.emit("data loading cancelled")
            self._fill_options(self.loaded.settings if self.loaded else None)

    def busy(self) -> bool:
        return self.task is not None

    def _busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)

    @Slot(int, int, str)
    def _on_progress(self, token: int, percent: int, text: str) -> None:
        if self.task is None or token != self.task.token:
            return
        self.progress.setValue(max(percent, 0))
        self.progress.setFormat(f"{text} %p%" if text else "%p%")

    @Slot(int, str)
    def _on_failed(self, token: int, message: str) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        self._busy(False)
        self.show_error(message)
        self._fill_options(self.loaded.settings if self.loaded else None)

    @Slot(int, object)
    def _on_done(self, token: int, loaded: Loaded) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        self._busy(False)
        self.error_label.hide()
        self.loaded = loaded
        if self._apply and loaded.settings != self.document.project.data:
            name = Path(loaded.settings["path"]).name
            self.document.push(SetData(self.document, loaded.settings, loaded.prepared,
                                       f"Use data {name}"))
        self._show_loaded(loaded)
        self.document.validate_now()  # the graph's disagreements with this data, as problems
        p = loaded.prepared
        self.message.emit(f"data: {loaded.schema.rows:,} rows read in {loaded.seconds:.1f} s; "
                          f"Input {p.input_shape} {p.input_dtype}"
                          + (f", {p.num_classes} classes" if p.classes else ""))
        self.loadedChanged.emit()

    def error(self) -> str:
        """The error the panel shows now (a file that cannot be read), or ''."""
        return "" if self.error_label.isHidden() else self.error_label.toolTip()

    def show_error(self, message: str) -> None:
        self.error_label.setText(f"⚠ {message}")
        self.error_label.setToolTip(message)
        self.error_label.show()
        self.message.emit(message)

    # -- showing ----------------------------------------------------------------------------
    def _show_loaded(self, loaded: Loaded | None) -> None:
        if loaded is None:
            self.model.set_frame(None)
            self.columns.setRowCount(0)
            self._bars([])
            self.images_box.hide()
            self.file_label.setText("No data yet: open a file, or drop one onto the window.")
            self.info_label.setText("")
            self.warn_label.hide()
            self._fill_options(None)
            return
        schema, p, s = loaded.schema, loaded.prepared, loaded.settings
        kinds = {c.name: c for c in schema.columns}
        headers = [f"{c}\n{kinds[c].type} · {kinds[c].role}" if c in kinds else c
                   for c in map(str, loaded.df.columns)]
        self.model.set_frame(loaded.df, headers)
        for i, c in enumerate(map(str, loaded.df.columns)):
            kind = kinds[c].type if c in kinds else ""
            self.table.setColumnWidth(i, 320 if kind == "text" else 120)
        self._fill_columns(schema)
        self._bars(schema.classes or [])
        test = f" · test file {Path(s['test_path']).name}" if s.get("test_path") else ""
        self.file_label.setText(f"<b>{Path(s['path']).name}</b>{test}")
        self.file_label.setToolTip(s["path"])
        info = schema.info
        splits = f"train {len(p.train):,} · val {len(p.val):,}" + (
            f" · test {len(p.test):,}" if p.test is not None else "")
        task = (f"classification, {p.num_classes} classes" if p.task == "classification"
                else f"regression → {p.target_shape}")
        vocab = f", vocabulary {p.cardinality:,}" if p.cardinality else ""
        inputs = p.inputs or []
        if len(inputs) > 1:
            fed = self._fed_inputs(p)
            shown = "; ".join(f"{html.escape(i.name)} {','.join(map(str, i.shape))} ({i.kind}) → "
                              + (f"Input '{html.escape(i.name)}'" if i.name in fed else
                                 "<i>no Input of that name</i>") for i in inputs)
            what = f"{len(inputs)} inputs: {shown}"
        else:
            what = f"Input {p.input_shape} {p.input_dtype}{vocab}"
        source = ("image folder" if info.source == "folder" else
                  f"{info.delimiter_name}-separated")
        self.info_label.setText(
            f"{schema.rows:,} rows · {source} · {len(schema.columns)} "
            f"columns · target <b>{html.escape(schema.target)}</b> ({task}) · {what} · {splits}")
        self._show_image_options(any(i.kind == "image" for i in inputs))
        self._show_images(loaded)
        warnings = list(dict.fromkeys(p.warnings))
        warnings.sort(key=lambda w: not w.startswith("class "))  # about the target: shown first
        self.warn_label.setText("\n".join(f"⚠ {w}" for w in warnings[:4]))
        self.warn_label.setVisible(bool(warnings))
        self._fill_options(s)   # and, through _enable_options, the class-weight box

    def _fed_inputs(self, prepared) -> set[str]:
        """The input groups an Input node of the graph on screen takes (by its name)."""
        if self.document is None:
            return set()
        return {info.name for info, _ in prepared.input_nodes(self.document.project.graph)}

    def _fill_columns(self, schema) -> None:
        settings = self.loaded.settings if self.loaded else {}
        groups = {c: g["name"] for g in settings.get("inputs", []) for c in g["columns"]}
        self.columns.setRowCount(len(schema.columns))
        for row, c in enumerate(schema.columns):
            self.columns.setItem(row, 0, QTableWidgetItem(c.name))
            for col, key, choices, value in ((1, "type", TYPES, c.type), (2, "role", ROLES, c.role)):
                box = QComboBox()
                box.addItems(list(choices) if value in choices else [value, *choices])
                box.setCurrentText(value)
                box.setProperty("column", c.name)
                box.setProperty("key", key)
                box.currentTextChanged.connect(self._column_edited)
                wheel_when_focused(box)  # a wheel over the table scrolls it, never edits
                self.columns.setCellWidget(row, col, box)
            self.columns.setCellWidget(row, 3, self._group_box(c, groups))
            for col, value in ((4, c.missing), (5, c.distinct)):
                item = QTableWidgetItem(f"{value:,}")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.columns.setItem(row, col, item)
            self.columns.setItem(row, 6, QTableWidgetItem(c.note))

    def _group_box(self, c, groups: dict[str, str]) -> QComboBox:
        """Which input a feature column feeds: (one input) by default, or a group name typed
        or picked; a group feeds the Input node of the same name."""
        box = QComboBox()
        box.setEditable(True)
        names = list(dict.fromkeys([*groups.values(), "table", "text", "image"]))
        box.addItems([ONE_INPUT, *names])
        box.setCurrentText(groups.get(c.name, ONE_INPUT))
        box.setEnabled(c.role == "feature")
        box.setToolTip("Several inputs: give columns a group name; each group becomes one model "
                       "input, fed to the Input node with that name")
        column = c.name

        def chosen(*_):  # a pick, or a typed name once finished: not on every keystroke
            self.set_column(column, "input", box.currentText())

        box.activated.connect(chosen)
        box.lineEdit().editingFinished.connect(chosen)
        wheel_when_focused(box)
        return box

    def _bars(self, classes) -> None:
        plot = self.balance.getPlotItem()
        if self.bars is not None:
            plot.removeItem(self.bars)
            self.bars = None
        total = len(classes)
        if total > BARS_SHOWN:  # thousands of bars help nobody: the most frequent classes
            classes = sorted(classes, key=lambda c: -int(c[1]))[:BARS_SHOWN]
        names = [str(n) for n, _ in classes]
        counts = [int(k) for _, k in classes]
        plot.getAxis("left").setTicks(charts.class_ticks(names, 18))
        if not classes:
            plot.setTitle("Class balance (no classes: regression or no data)", size="9pt",
                          color=charts.colours()[1])
            return
        title = f"{total:,} classes" if total == len(names) else \
            f"top {len(names)} of {total:,} classes"
        plot.setTitle(f"Class balance · {title}", size="9pt", color=charts.colours()[1])
        self.bars = pg.BarGraphItem(x0=0, y=list(range(len(names))), height=0.7, width=counts,
                                    brush=charts.SERIES["train"], pen=None)
        plot.addItem(self.bars)
        plot.setLimits(xMin=0)
        plot.invertY(True)
        plot.getViewBox().setRange(xRange=(0, max(counts) * 1.05),
                                   yRange=(-0.6, len(names) - 0.4), padding=0)

    def _fill_options(self, settings: dict | None) -> None:
        self._enable_options(settings is not None)
        if settings is None:
            return
        for key, w in self.opt.items():
            section, _, leaf = key.partition(".")
            value = settings[section][leaf] if leaf else settings[section]
            with QSignalBlocker(w):
                if isinstance(w, QComboBox):
                    w.setCurrentText(str(value))
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                else:
                    w.setValue(value)
        self.opt["split.test"].setEnabled(not settings.get("test_path"))
        self.clear_test.setEnabled(bool(settings.get("test_path")))
        self.test_button.setEnabled(bool(settings.get("path")))

    def _enable_options(self, on: bool) -> None:
        for w in self.opt.values():
            w.setEnabled(on)
        self._sync_weigh()
        self.test_button.setEnabled(on)
        self.clear_test.setEnabled(on)

    # -- edits ------------------------------------------------------------------------------
    @Slot()
    def _schedule(self, *_) -> None:
        self._options_timer.start()

    @Slot()
    def _options_changed(self) -> None:
        if self.loaded is None:
            return
        s = self.current_settings()
        for key, w in self.opt.items():
            section, _, leaf = key.partition(".")
            if isinstance(w, QComboBox):
                value = w.currentText()
            elif isinstance(w, QCheckBox):
                value = w.isChecked()
            elif isinstance(w, QDoubleSpinBox):
                value = round(w.value(), 4)
            else:
                value = int(w.value())
            if leaf:
                s[section][leaf] = value
            else:
                s[section] = value
        if s != self.loaded.settings:
            self.load(s, apply=True)

    @Slot(str)
    def _column_edited(self, value: str) -> None:
        box = self.sender()
        self.set_column(box.property("column"), box.property("key"), value)

    def set_column(self, column: str, key: str, value: str) -> None:
        """Change one column's type or role (the table's combo boxes call this)."""
        s = self.current_settings()
        if key == "input":
            s["inputs"] = regrouped(s["inputs"], column, value.strip())
            if s != self.current_settings():
                self.load(s, apply=True)
            return
        if key == "type":
            if value not in TYPES:
                return
            s["types"][column] = value
        elif value == "target":
            s["target"] = column
            s["roles"] = {c: r for c, r in s["roles"].items() if r != "target"}
            s["roles"][column] = "target"
        else:
            if s["target"] == column or (self.loaded and self.loaded.schema.target == column):
                s["target"] = ""
            s["roles"][column] = value
        self.load(s, apply=True)
