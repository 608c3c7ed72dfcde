"""The Runs panel: the project's run folders with their metrics. Selecting a run picks what
"Export ONNX" exports; ticking runs overlays their curves on the training dashboard, and with
two or more ticked, "Compare…" shows them side by side (runs_compare.py)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from workbench.train.compare import TRIAL, run_name
from workbench.train.runs import RunRecord, made_by, read_run

FOLDER_ROLE = Qt.UserRole + 1


def runs_root(project, untitled_id: str | None = None) -> Path:
    """Beside a saved project: <folder>/runs. An unsaved one: the app's data folder
    (WORKBENCH_RUNS_DIR overrides), so an untitled project never litters the working folder;
    `untitled_id` (the document's) gives each untitled project a folder of its own."""
    if project.path is not None:
        return project.folder / "runs"
    env = os.environ.get("WORKBENCH_RUNS_DIR")
    if env:
        base = Path(env)
    else:
        base = Path(QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
                    or Path.home() / ".local" / "share" / "workbench") / "runs"
    name = file_stem(project.name) or "untitled"
    return base / (f"{name}-{untitled_id}" if untitled_id else name)


def file_stem(name: str) -> str:
    """A project name as a file or folder name: no spaces or path characters."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


def list_runs(root: Path, project_path: Path | None = None) -> list[RunRecord]:
    """The run folders under `root` made by `project_path` (another project saved in the same
    folder shares `runs/`), newest first, each read by the one run reader
    (`workbench.train.runs.read_run`, which never raises: what it cannot read is a warning).
    A search's trials (`search-<name>/trial-<n>/`) are listed where their search sorts,
    highest number (newest) first."""
    if not root.is_dir():
        return []
    folders: list[Path] = []
    for p in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        if (p / "project.wbproj").exists():
            folders.append(p)
        elif p.name.startswith("search-"):
            try:
                trials = [(int(m.group(1)), t) for t in p.iterdir()
                          for m in [TRIAL.fullmatch(t.name)] if m and t.is_dir()
                          and (t / "project.wbproj").exists()]
            except OSError:   # a search folder that cannot be read lists nothing, not a traceback
                trials = []
            folders += [t for _, t in sorted(trials, reverse=True)]
    return [read_run(p) for p in folders if made_by(p, project_path)]


def headline_metric(run: RunRecord) -> tuple[str, float | None]:
    """The test split's headline metric (accuracy for classification, r2 for regression)."""
    test = run.split("test")
    name = "accuracy" if "accuracy" in test else ("r2" if "r2" in test else "")
    return name, _number(test.get(name)) if name else None


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _num(v) -> str:
    v = _number(v)
    return "—" if v is None else f"{v:.4f}"


class RunsPanel(QWidget):
    selectionChanged = Signal()
    overlayChanged = Signal()
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.root: Path | None = None
        self.document = None
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Run", "Status", "Epochs", "Val loss", "Test"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.tree.setToolTip("Select a run to export it; tick runs to overlay their curves")
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.itemChanged.connect(self._item_changed)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextSelectableByMouse)  # the path can be copied
        self.where.setStyleSheet("color: palette(placeholder-text);")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.open_button = QPushButton("Open Folder")
        self.open_button.clicked.connect(self.open_folder)
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Tick two or more runs to compare their curves, "
                                       "settings and architecture")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self.compare)
        self.compare_dialog = None
        row = QHBoxLayout()
        row.addWidget(refresh)
        row.addWidget(self.open_button)
        row.addWidget(self.compare_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        lay.addWidget(self.where)
        self._filling = False

    def set_document(self, document) -> None:
        """The runs of this document only: nothing ticked or selected from the last one."""
        self.document = document
        self.tree.clear()
        if self.compare_dialog is not None:     # it compared the last document's runs
            self.compare_dialog.close()
            self.compare_dialog.deleteLater()
            self.compare_dialog = None
        self.set_root(runs_root(document.project, document.untitled_id))

    def set_root(self, root: Path) -> None:
        self.root = root
        self.refresh()

    @Slot()
    def refresh(self, select: Path | None = None) -> None:
        if self.root is None:
            return
        keep = select or self.selected_run()
        ticked = set(self.ticked())
        self._filling = True
        self.tree.clear()
        current = None
        for run in list_runs(self.root, self.document.project.path if self.document else None):
            name, value = headline_metric(run)
            epochs = run.summary.get("epochs_run")
            status = run.status if run.has_weights or run.status in ("running", "empty") \
                else f"{run.status} · no weights"
            item = QTreeWidgetItem([run_name(run.folder), status,
                                    str(epochs) if _number(epochs) else "—",
                                    _num(run.split("val").get("loss")),
                                    f"{name} {_num(value)}" if name else "—"])
            item.setData(0, FOLDER_ROLE, str(run.folder))
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(0, Qt.Checked if run.folder in ticked else Qt.Unchecked)
            item.setToolTip(0, "\n".join([str(run.folder), *run.warnings]))
            if run.status == "failed":
                item.setForeground(1, Qt.red)
            if run.warnings:   # an unreadable summary or log: say so where the run is listed
                item.setForeground(0, Qt.darkYellow)
            self.tree.addTopLevelItem(item)
            if keep is not None and run.folder == Path(keep):
                current = item
        self._filling = False
        if current is None and self.tree.topLevelItemCount():
            current = self.tree.topLevelItem(0)
        if current is not None:
            self.tree.setCurrentItem(current)
        self.where.setText(f"runs in {self.root}")
        self.compare_button.setEnabled(len(self.ticked()) >= 2)
        self.selectionChanged.emit()

    def selected_run(self) -> Path | None:
        item = self.tree.currentItem()
        return Path(item.data(0, FOLDER_ROLE)) if item is not None else None

    def ticked(self) -> list[Path]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.checkState(0) == Qt.Checked:
                out.append(Path(item.data(0, FOLDER_ROLE)))
        return out

    def set_ticked(self, folder: Path, on: bool = True) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if Path(item.data(0, FOLDER_ROLE)) == Path(folder):
                item.setCheckState(0, Qt.Checked if on else Qt.Unchecked)

    @Slot()
    def _current_changed(self, *_) -> None:
        if not self._filling:
            self.selectionChanged.emit()

    @Slot()
    def _item_changed(self, item, column: int) -> None:
        if not self._filling and column == 0:
            self.compare_button.setEnabled(len(self.ticked()) >= 2)
            self.overlayChanged.emit()

    @Slot()
    def compare(self):
        """Open "Compare runs" on the ticked runs, oldest first (each is diffed against it);
        a second Compare replaces the window."""
        from workbench.ui.panels.runs_compare import RunsCompareDialog
        folders = self.ticked()
        if len(folders) < 2:
            return None
        if self.compare_dialog is not None:
            self.compare_dialog.close()
            self.compare_dialog.deleteLater()
        self.compare_dialog = RunsCompareDialog(folders[::-1], self)   # oldest first: the base
        self.compare_dialog.show()
        return self.compare_dialog

    def open_folder(self) -> bool:
        target = self.selected_run() or self.root
        if target is None:
            return False
        if not Path(target).exists():
            self.message.emit(f"no runs yet: the folder {target} is made by the first run")
            return False
        if self.open_url(QUrl.fromLocalFile(str(target))):
            return True
        self.message.emit(f"no file manager could be started here; the folder is {target}")
        return False

    def open_url(self, url: QUrl) -> bool:
        """QDesktopServices.openUrl (tests replace it): False when no launcher is there."""
        return QDesktopServices.openUrl(url)
