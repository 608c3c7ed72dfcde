"""Part 2 of the main window: data → training → runs → export, wired into the window.

`Workflow(window)` wires the Data, Training, Runs and Insight panels (made by the window's
PANELS table), adds the "Export ONNX" and "Open Data" actions, enables Run › Train/Pause/Stop
and File › Export…, and stops the window's worker threads (quit() + wait()) on close.
Everything here acts on the document on screen: a document switch resets the export target
and closes the dialogs of the last one; Export ONNX waits for a run of the new project.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressBar

from workbench.ui.exporter import Exporter, describe
from workbench.ui.panels.runs_panel import file_stem, list_runs, runs_root

ONNX_FILTER = "ONNX models (*.onnx);;All files (*)"
PANEL_HEIGHT = 460   # the data table and the dashboard want this much when shown


class Workflow(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.threads = window.threads
        p = window.panels
        self.data, self.training, self.runs, self.insight = (
            p["data"], p["training"], p["runs"], p["insight"])
        self.insight.set_scene(window.scene)
        self.exporter = Exporter(self.threads, self)
        self.export_box: QMessageBox | None = None  # the last one-click export's result
        self._one_click = False                     # the export running is Export ONNX's
        self.onnx_path: Path | None = None       # where one-click export writes (unsaved projects)
        self.untitled_root: Path | None = None    # the runs folder of an untitled project
        self.save_note = ""                        # what the last save also did (runs moved)
        self.dialog = None
        self.cluster_dialog = None

        w = window
        for key in ("data", "training", "experiments"):   # a tab clicked open gets a usable height
            w.docks[key].visibilityChanged.connect(self._panel_shown)

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
        self.data.loadedChanged.connect(self.training.show_sizing)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        w.statusBar().addWidget(self.busy)

        self.experiments = p["experiments"]
        for panel in (self.data, self.training, self.insight, self.runs, self.experiments):
            panel.message.connect(w.show_message)
        self.experiments.exportRequested.connect(self.export_trial)
        self.experiments.searchFinished.connect(self.runs.refresh)
        self.exporter.message.connect(self._export_message)
        self.exporter.busyChanged.connect(self._export_busy)
        self.exporter.finished.connect(self._export_finished)
        self.exporter.failed.connect(self._export_failed)
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
        self.experiments.restyle()

    def _action(self, key, text, slot, shortcut, tip) -> QAction:
        return self.w._act(key, text, slot, QKeySequence(shortcut), tip)

    # -- document -------------------------------------------------------------------------
    @Slot(object)
    def on_document(self, document) -> None:
        """After the panels took the new document (window.set_document): the export target
        and the dialogs of the last one go; the runs are this document's only."""
        self.onnx_path = None
        self.save_note = ""
        self.exporter.last_report, self.exporter.last_error = None, ""
        for attr in ("dialog", "cluster_dialog", "export_box"):
            dialog = getattr(self, attr)
            if dialog is not None:
                dialog.close()
                dialog.deleteLater()
                setattr(self, attr, None)
        document.pathChanged.connect(self._path_changed)
        self.untitled_root = None if document.path else self.runs.root
        self._update_actions()

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
            moved = move_runs(old, new, self.w.document.path)
        except OSError as exc:
            self.save_note = f"; the runs stay in {old}: {exc}"
            return
        if moved:
            self.save_note = f"; {len(moved)} run{'s' if len(moved) != 1 else ''} moved beside it ({new})"

    def current_runs_root(self) -> Path:
        document = self.w.document
        return runs_root(document.project, document.untitled_id)

    @Slot(str)
    def open_data(self, path: str) -> None:
        self.show_panel("data")
        self.data.open_file(path)

    def show_panel(self, key: str) -> None:
        dock = self.w.docks[key]
        dock.show()
        dock.raise_()
        self._grow(dock)

    def _grow(self, dock) -> None:
        want = min(PANEL_HEIGHT, self.w.height() // 2)
        if dock.height() < want and not dock.isFloating():
            self.w.resizeDocks([dock], [want], Qt.Vertical)

    @Slot(bool)
    def _panel_shown(self, visible: bool) -> None:
        dock = self.sender()
        if visible and dock is not None and not self.w.layout_pending:
            QTimer.singleShot(0, lambda: self._grow(dock))

    # -- training -------------------------------------------------------------------------
    @Slot(str)
    def _training_state(self, state: str) -> None:
        if state == "running" and not self.training.points_received:
            self.show_panel("training")
        self._update_actions()

    def training_busy(self) -> bool:
        return self.training.state != "idle"

    def stop_training(self, timeout_s: float = 60.0) -> bool:
        """Stop the run after this batch and wait (events keep flowing) until it has ended
        and written its checkpoint; True when training is idle."""
        if not self.training_busy():
            return True
        if self.training.state == "paused" and self.training.worker is not None:
            self.training.worker.resume()   # a paused trainer only sees stop once it runs
        self.training.stop()
        deadline = time.monotonic() + timeout_s
        loop, tick = QEventLoop(), QTimer(interval=50)
        tick.timeout.connect(loop.quit)
        self.training.stateChanged.connect(loop.quit)
        tick.start()
        while self.training_busy() and time.monotonic() < deadline:
            loop.exec()
        tick.stop()
        self.training.stateChanged.disconnect(loop.quit)
        return not self.training_busy()

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
        start = Path.cwd() / f"{file_stem(self.w.document.name) or 'model'}.onnx"
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
        self._one_click = self.exporter.start(run, "onnx", out, checkpoint="best")
        return self._one_click

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
        self.cluster_dialog = ClusterDialog(source, project.folder,
                                            file_stem(self.w.document.name) or "model", self.w,
                                            threads=self.threads)
        self.cluster_dialog.show()
        return True

    @Slot()
    def show_export_dialog(self) -> None:
        self._open_export(self.runs.selected_run())

    @Slot(object)
    def export_trial(self, folder) -> None:
        """The Experiments panel's "Export trial": the same Export dialog, on that trial."""
        self._open_export(Path(folder))

    def _open_export(self, selected: Path | None) -> None:
        from workbench.ui.dialogs.export_dialog import ExportDialog
        project = self.w.document.project
        out_dir = project.folder if project.path else (self.onnx_path.parent if self.onnx_path
                                                       else Path.cwd())
        runs = [r.folder for r in list_runs(self.current_runs_root(), project.path)]
        if selected is not None and selected not in runs:
            runs.insert(0, selected)
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = ExportDialog(self.exporter, runs, selected, out_dir,
                                   file_stem(self.w.document.name) or "model", self.w)
        self.dialog.show()

    @Slot(str)
    def _export_message(self, text: str) -> None:
        self.w.show_message(text, 30000)

    @Slot(object)
    def _export_finished(self, report) -> None:
        if not self._one_click:   # the Export dialog shows its own report
            return
        self._one_click = False
        where = f"\n\nWritten to {report.path}" if report.path else ""
        self._show_export_box(QMessageBox.Information if report.passed else QMessageBox.Warning,
                              "Export finished" if report.passed else "Export not verified",
                              describe(report) + where)

    @Slot(str)
    def _export_failed(self, message: str) -> None:
        if not self._one_click:
            return
        self._one_click = False
        self._show_export_box(QMessageBox.Warning, "Export failed", f"export failed: {message}")

    def _show_export_box(self, icon, title: str, text: str) -> None:
        """The result of an export, where it cannot be missed; not modal, so training and
        editing go on (and tests read `export_box.text()`)."""
        if self.export_box is not None:
            self.export_box.close()
            self.export_box.deleteLater()
        box = QMessageBox(icon, title, text, QMessageBox.Ok, self.w)
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.setModal(False)
        box.show()
        self.export_box = box

    @Slot(bool)
    def _export_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self._update_actions()

    # -- closing --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop training and loading, then quit() and wait() every worker thread."""
        self.data.cancel()
        self.threads.stop_all()
