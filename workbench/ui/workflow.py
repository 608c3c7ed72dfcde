"""Part 2 of the main window: data → training → runs → export, wired into the window.

`Workflow(window)` adds the Data, Training, Runs and Insight panels, the "Export ONNX" and
"Open Data" actions, enables Run › Train/Pause/Stop and File › Export…, and owns the worker
threads (stopped with quit() + wait() when the window closes).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QProgressBar, QScrollArea

from workbench.ui.exporter import Exporter
from workbench.ui.panels.data_panel import DataPanel
from workbench.ui.panels.insight_panel import InsightPanel
from workbench.ui.panels.runs_panel import RunsPanel, list_runs, runs_root
from workbench.ui.panels.training_panel import TrainingPanel
from workbench.ui.workers import Threads

ONNX_FILTER = "ONNX models (*.onnx);;All files (*)"


def scrolled(panel) -> QScrollArea:
    """A big panel in a dock: below its minimum size it scrolls instead of squeezing the
    window's other docks (or forcing a large minimum window size)."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    return area


class Workflow(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.threads = Threads(self)
        self.data = DataPanel(self.threads)
        self.training = TrainingPanel(self.threads)
        self.runs = RunsPanel()
        self.insight = InsightPanel()
        self.exporter = Exporter(self.threads, self)
        self.onnx_path: Path | None = None       # where one-click export writes (unsaved projects)
        self.untitled_root: Path | None = None    # the runs folder of an untitled project
        self.save_note = ""                        # what the last save also did (runs moved)
        self.dialog = None
        self.cluster_dialog = None

        w = window
        w.add_panel("data", "Data", scrolled(self.data), Qt.BottomDockWidgetArea, tab_with="problems")
        w.add_panel("training", "Training", scrolled(self.training), Qt.BottomDockWidgetArea,
                    tab_with="data")
        w.add_panel("runs", "Runs", self.runs, Qt.RightDockWidgetArea, tab_with="inspector")
        w.add_panel("insight", "Insight", self.insight, Qt.RightDockWidgetArea, tab_with="runs")
        w.docks["inspector"].raise_()
        w.docks["problems"].raise_()
        w.resizeDocks([w.docks["palette"], w.docks["inspector"]], [210, 300], Qt.Horizontal)

        a = w.actions
        self._action("export_onnx", "Export &ONNX", self.export_onnx, "Ctrl+Shift+E",
                     "Export the selected run's best checkpoint to ONNX, verified, in one click")
        self._action("open_data", "Open &Data…", self.data.choose_file, "Ctrl+Shift+O",
                     "Open a CSV/TSV/TXT data file in the Data panel")
        self._action("export_cluster", "Export for &Cluster…", self.show_cluster_dialog, None,
                     "Plain PyTorch code, data and the torchrun commands for N GPUs or machines")
        a["export"].setStatusTip("Export a run: ONNX, torch.export, TorchScript, Python code, bundle")
        a["export"].setToolTip("Export… (Ctrl+E)\nAll formats, the deployment bundle, compression")
        a["export"].triggered.connect(self.show_export_dialog)
        a["train"].setStatusTip("Train the model on the loaded data (in the background)")
        a["train"].setToolTip("Train (F5)\nTrain the model on the loaded data")
        a["pause"].setToolTip("Pause / Resume (F6)")
        a["stop"].setToolTip("Stop (Shift+F5)\nStop after this batch; the last epoch's checkpoint stays")
        file_menu = w.menus["file"]
        file_menu.insertAction(a["export"], a["export_onnx"])
        file_menu.insertAction(a["export"], a["export_cluster"])
        file_menu.insertAction(a["save"], a["open_data"])
        tb = w.toolbar
        tb.insertAction(a["export"], a["export_onnx"])
        tb.insertAction(a["stop"], a["pause"])
        tb.insertAction(a["validate"], a["open_data"])
        self.training.bind_actions(a["train"], a["pause"], a["stop"])
        self.training.data_source = self.data.prepared_for_project
        self.training.runs_root = self.current_runs_root

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        self.export_label = QLabel("")
        w.statusBar().addWidget(self.busy)

        for panel in (self.data, self.training, self.insight):
            panel.message.connect(w.show_message)
        self.exporter.message.connect(self._export_message)
        self.exporter.busyChanged.connect(self._export_busy)
        self.training.trainingEvent.connect(self.insight.on_event)
        self.training.runFinished.connect(self._run_finished)
        self.training.stateChanged.connect(self._training_state)
        self.runs.overlayChanged.connect(self._overlays)
        self.runs.selectionChanged.connect(self._update_actions)
        w.view.dataDropped.connect(self.open_data)
        w.documentChanged.connect(self.on_document)
        a["dark"].triggered.connect(self.restyle)   # after the window's own set_dark
        self._update_actions()

    @Slot()
    def restyle(self) -> None:
        """Charts follow the light/dark theme."""
        import pyqtgraph as pg

        from workbench.ui import charts
        for panel in (self.data, self.training):
            for plot in panel.findChildren(pg.PlotWidget):
                charts.style_plot(plot)

    def _action(self, key, text, slot, shortcut, tip) -> QAction:
        return self.w._act(key, text, slot, QKeySequence(shortcut), tip)

    # -- document -------------------------------------------------------------------------
    @Slot(object)
    def on_document(self, document) -> None:
        self.data.set_document(document)
        self.training.set_document(document)
        self.insight.set_scene(self.w.scene)
        self.onnx_path = None
        document.pathChanged.connect(self._path_changed)
        self.runs.set_root(self.current_runs_root())
        self.untitled_root = None if document.path else self.runs.root

    @Slot(object)
    def _path_changed(self, _path) -> None:
        old, new = self.runs.root, self.current_runs_root()
        if old is not None and old != new and self.untitled_root == old:
            self._take_runs_along(old, new)
        self.untitled_root = None if self.w.document.path else new
        self.runs.set_root(new)

    def _take_runs_along(self, old: Path, new: Path) -> None:
        """First save of an untitled project: its runs move beside it, where the Runs panel
        now looks, instead of staying behind in the app's data folder."""
        from workbench.train.runs import move_runs
        if self.training_busy():
            self.save_note = f"; training is running, so its runs stay in {old}"
            return
        try:
            moved = move_runs(old, new)
        except OSError as exc:
            self.save_note = f"; the runs stay in {old}: {exc}"
            return
        if moved:
            self.save_note = f"; {len(moved)} run{'s' if len(moved) != 1 else ''} moved beside it ({new})"

    def current_runs_root(self) -> Path:
        return runs_root(self.w.document.project)

    @Slot(str)
    def open_data(self, path: str) -> None:
        self.show_panel("data")
        self.data.open_file(path)

    def show_panel(self, key: str) -> None:
        dock = self.w.docks[key]
        dock.show()
        dock.raise_()
        if key in ("data", "training") and dock.height() < 460 and not dock.isFloating():
            self.w.resizeDocks([dock], [min(460, self.w.height() // 2)], Qt.Vertical)

    # -- training -------------------------------------------------------------------------
    @Slot(str)
    def _training_state(self, state: str) -> None:
        if state == "running" and not self.training.points_received:
            self.show_panel("training")
        self._update_actions()

    def training_busy(self) -> bool:
        return self.training.state != "idle"

    @Slot(object)
    def _run_finished(self, result) -> None:
        folder = getattr(result, "folder", None)
        self.runs.refresh(select=folder)
        self._update_actions()

    @Slot()
    def _overlays(self) -> None:
        current = self.training.run_folder
        self.training.set_overlays([f for f in self.runs.ticked() if f != current])

    @Slot()
    def _update_actions(self) -> None:
        has_run = self.runs.selected_run() is not None
        idle = not self.exporter.busy()
        self.w.actions["export_onnx"].setEnabled(has_run and idle and not self.training_busy())
        self.w.actions["export"].setEnabled(has_run)

    # -- export ---------------------------------------------------------------------------
    def ask_export_path(self) -> str | None:
        start = Path.cwd() / f"{self.w.document.name}.onnx"
        path, _ = QFileDialog.getSaveFileName(self.w, "Export ONNX to", str(start), ONNX_FILTER)
        return path or None

    def onnx_target(self) -> Path | None:
        """Next to the project; for an unsaved project ask once, then reuse the answer."""
        project = self.w.document.project
        if project.path is not None:
            return project.folder / f"{project.path.stem}.onnx"
        if self.onnx_path is None:
            path = self.ask_export_path()
            if not path:
                return None
            self.onnx_path = Path(path)
        return self.onnx_path

    @Slot()
    def export_onnx(self) -> bool:
        run = self.runs.selected_run()
        if run is None:
            self.w.show_message("nothing to export yet: train the model first")
            return False
        out = self.onnx_target()
        if out is None:
            return False
        return self.exporter.start(run, "onnx", out, checkpoint="best")

    @Slot()
    def show_cluster_dialog(self) -> bool:
        from workbench.ui.dialogs.cluster_dialog import ClusterDialog
        project = self.w.document.project
        source = self.runs.selected_run() or project.path  # a run folder or a saved project
        if source is None:
            self.w.show_message("save the project (or train it) first: the cluster bundle is "
                                "written from a saved project or a run")
            return False
        if self.cluster_dialog is not None:
            self.cluster_dialog.close()
            self.cluster_dialog.deleteLater()
        self.cluster_dialog = ClusterDialog(source, project.folder, self.w.document.name, self.w,
                                            threads=self.threads)
        self.cluster_dialog.show()
        return True

    @Slot()
    def show_export_dialog(self) -> None:
        from workbench.ui.dialogs.export_dialog import ExportDialog
        project = self.w.document.project
        out_dir = project.folder if project.path else (self.onnx_path.parent if self.onnx_path
                                                       else Path.cwd())
        runs = [r.folder for r in list_runs(self.current_runs_root())]
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = ExportDialog(self.exporter, runs, self.runs.selected_run(), out_dir,
                                   self.w.document.name, self.w)
        self.dialog.show()

    @Slot(str)
    def _export_message(self, text: str) -> None:
        self.w.show_message(text, 30000)

    @Slot(bool)
    def _export_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self._update_actions()

    # -- closing --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop training and loading, then quit() and wait() every worker thread."""
        self.data.cancel()
        self.threads.stop_all()
