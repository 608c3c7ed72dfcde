"""The main window: canvas in the middle, dockable panels around it, menus, toolbar, status bar.

Every panel is one row of PANELS (key, title, how to make it, dock area, tabbed with) and
follows one protocol, DocumentPanel: `set_document(document)` binds it to the document on
screen and drops everything it showed of the last one. Part 2 (data, training, runs,
insight, export) is wired in workflow.py (`self.workflow`).

Menus are in `self.menus` ("file", "edit", "view", "panels", "run", "help") and actions in
`self.actions` (e.g. "train", "pause", "stop", "export"). Questions to the user go through
the `ask_*` methods so that tests can answer them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from PySide6.QtCore import QByteArray, QMimeData, QPointF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCursor, QGuiApplication, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QFrame, QLabel,
                               QMainWindow, QMenu, QMessageBox, QScrollArea, QToolBar, QUndoView,
                               QWidget)

from workbench.core import clipboard, layout, project as project_io, templates
from workbench.core.graph import GraphError
from workbench.core.project import Project, ProjectError
from workbench.resources import is_bundled_example
from workbench.ui import freezing, theme
from workbench.ui.document import Document, find_recoveries, restore
from workbench.ui.editor import commands
from workbench.ui.editor.items import GRID, WIDTH, EdgeItem, NodeItem
from workbench.ui.editor.scene import EditorScene
from workbench.ui.editor.view import EditorView, data_paths, project_paths
from workbench.ui.panels.data_panel import DataPanel
from workbench.ui.panels.experiments_panel import ExperimentsPanel
from workbench.ui.panels.insight_panel import InsightPanel
from workbench.ui.panels.inspector import Inspector
from workbench.ui.panels.palette import Palette
from workbench.ui.panels.problems import ProblemsPanel
from workbench.ui.panels.runs_panel import RunsPanel, file_stem
from workbench.ui.panels.training_panel import TrainingPanel
from workbench.ui.workers import Threads

FILE_FILTER = "Workbench projects (*.wbproj);;All files (*)"
MAX_RECENT = 10
MIN_SIZE = (1000, 640)     # below this the docks squeeze the canvas to nothing
READABLE = 0.55            # the smallest zoom at which node titles and shapes still read


@runtime_checkable
class DocumentPanel(Protocol):
    """A panel that shows the document on screen. `set_document` is called on every switch
    (New, Open, restore) and must forget the last document: its runs, charts, selection."""

    def set_document(self, document) -> None: ...


@dataclass(frozen=True)
class PanelEntry:
    key: str
    title: str
    make: Callable[["MainWindow"], QWidget]
    area: Qt.DockWidgetArea
    tab_with: str | None = None
    scroll: bool = False       # a big panel scrolls below its minimum size (see `scrolled`)


L, R, B = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea, Qt.BottomDockWidgetArea
PANELS: list[PanelEntry] = [
    PanelEntry("palette", "Nodes", lambda w: Palette(), L),
    PanelEntry("inspector", "Inspector", lambda w: Inspector(), R),
    PanelEntry("runs", "Runs", lambda w: RunsPanel(), R, tab_with="inspector"),
    PanelEntry("insight", "Insight", lambda w: InsightPanel(), R, tab_with="runs"),
    PanelEntry("problems", "Problems", lambda w: ProblemsPanel(), B),
    PanelEntry("history", "History", lambda w: w.make_history(), B, tab_with="problems"),
    PanelEntry("data", "Data", lambda w: DataPanel(w.threads), B, tab_with="problems", scroll=True),
    PanelEntry("training", "Training", lambda w: TrainingPanel(w.threads), B, tab_with="problems",
               scroll=True),
    PanelEntry("experiments", "Experiments", lambda w: ExperimentsPanel(w.threads), B,
               tab_with="training", scroll=True),
]


def scrolled(panel: QWidget) -> QScrollArea:
    """A big panel in a dock: below its minimum size it scrolls instead of squeezing the
    window's other docks (or forcing a large minimum window size)."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    return area

# Sample data shapes for File › New from template when no data is loaded yet.
TEMPLATE_DATA = {
    "mlp-classifier": templates.DataShape((4,), num_classes=3, rows=150),
    "mlp-regressor": templates.DataShape((8,), task="regression", target_shape=(1,), rows=1000),
    "cnn-classifier": templates.DataShape((1, 8, 8), num_classes=10, rows=1800),
    "text-classifier": templates.DataShape((40,), "int64", cardinality=5000, num_classes=4, rows=2000),
    "lstm-classifier": templates.DataShape((40,), "int64", cardinality=5000, num_classes=4, rows=2000),
    "transformer-classifier": templates.DataShape((40,), "int64", cardinality=5000, num_classes=4,
                                                  rows=2000),
}


def settings_enabled() -> bool:
    return os.environ.get("WORKBENCH_NO_SETTINGS", "") not in ("1", "true", "yes")


def template_project(name: str) -> Project:
    data = TEMPLATE_DATA.get(name, templates.DataShape((4,), num_classes=3))
    return templates.build(name, data)


class MainWindow(QMainWindow):
    documentChanged = Signal(object)

    def __init__(self, document: Document | None = None):
        super().__init__()
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.document: Document | None = None
        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._recent: list[str] = []
        self._paste = ("", 0)  # last pasted text, how many times
        # Screenshot mode (nobody to click OK): errors are collected here instead of shown in
        # a modal box; `workbench gui --screenshot` prints them and exits 1.
        self.collected_errors: list[str] | None = None
        self.undo_group = QUndoGroup(self)
        self.threads = Threads(self)     # every worker thread of the window (stopped on close)
        self.import_dialog = None        # File › Import Model…, made on first use

        self.scene = EditorScene(self)
        self.view = EditorView(self.scene, self)
        self.setCentralWidget(self.view)
        self.panels: dict[str, QWidget] = {}
        self._build_docks()
        self.palette, self.inspector = self.panels["palette"], self.panels["inspector"]
        self.problems, self.history = self.panels["problems"], self.panels["history"]
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        from workbench.ui.workflow import Workflow
        self.workflow = Workflow(self)

        self.scene.message.connect(self.show_message)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.nodeDropped.connect(self.add_node_at)
        self.view.fileDropped.connect(self.open_file)
        self.view.modelDropped.connect(self.import_model)
        self.view.contextMenuAt.connect(self._context_menu)
        self.view.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.palette.addRequested.connect(self.add_node_at_centre)
        self.inspector.message.connect(self.show_message)
        self.problems.nodeActivated.connect(self.reveal_node)

        self.setMinimumSize(*MIN_SIZE)
        self.resize(1400, 900)
        self._load_settings()
        self.set_document(document or Document())
        QTimer.singleShot(0, self._detect_device)

    # -- construction -----------------------------------------------------------------------
    def _dock(self, key: str, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def make_history(self) -> QUndoView:
        view = QUndoView(self.undo_group)
        view.setEmptyLabel("<opened>")
        return view

    def _build_docks(self) -> None:
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks)
        # The palette keeps the whole left side; the bottom panels (data, training dashboard)
        # take the width under the canvas and the inspector, so the dashboard is not clipped.
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.BottomDockWidgetArea)
        for entry in PANELS:
            widget = entry.make(self)
            self.panels[entry.key] = widget
            self._dock(entry.key, entry.title, scrolled(widget) if entry.scroll else widget,
                       entry.area)
        self.layout_pending = True   # tabbed on first show (see showEvent), or restored
        self.saved_state = None      # the layout QSettings kept, restored on first show

    def default_layout(self) -> None:
        """Tab the panels as PANELS says and size the docks. Done once the window is shown:
        Qt (6.12) leaves a stale, visible copy of a tab bar when a second tab group grows
        past two docks before the first show (seen as a 'Problems | History' bar over the
        palette)."""
        self.layout_pending = False
        for entry in PANELS:
            if entry.tab_with in self.docks:
                self.tabifyDockWidget(self.docks[entry.tab_with], self.docks[entry.key])
        self.docks["inspector"].raise_()
        self.docks["problems"].raise_()
        self.resize_docks()

    def showEvent(self, event) -> None:
        if self.layout_pending:
            state, self.saved_state = self.saved_state, None
            if state is None or not self.restoreState(state):
                self.default_layout()
            self.layout_pending = False
        super().showEvent(event)

    def resize_docks(self) -> None:
        """The default split: palette and inspector at a readable width, the bottom panels
        at about a third of the height (enough for the data table and the dashboard)."""
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [210, 300], Qt.Horizontal)
        self.resizeDocks([self.docks["problems"]], [max(220, self.height() * 3 // 10)], Qt.Vertical)

    def _act(self, key: str, text: str, slot=None, shortcut=None, tip: str = "",
             checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '').rstrip('…')}"
                              + (f" ({action.shortcut().toString(QKeySequence.NativeText)})"
                                 if action.shortcut() else "") + f"\n{tip}")
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        A, K = self._act, QKeySequence
        A("new", "&New", self.new_blank, K.New, "Start an empty project")
        A("open", "&Open…", lambda: self.open_file(), K.Open, "Open a project file")
        A("import_model", "&Import Model…", self.import_model, "Ctrl+I",
          "A new project from an ONNX file, a .pt2 program or a PyTorch module, with its weights")
        A("save", "&Save", self.save, K.Save, "Save the project")
        A("save_as", "Save &As…", lambda: self.save_as(), K.SaveAs, "Save under another name")
        A("export", "&Export…", None, "Ctrl+E", "Export a trained run")
        A("quit", "&Quit", self.close, K.Quit, "Close the window")
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcut(K.Undo)
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcuts([K(K.Redo), K("Ctrl+Shift+Z")] if K(K.Redo) != K("Ctrl+Shift+Z")
                          else [K(K.Redo)])
        for key, action in (("undo", undo), ("redo", redo)):
            # the menu says what ("Undo Add Linear"); the toolbar button keeps one short word
            # so that the buttons after it do not shift under the mouse with every edit
            action.setIconText(key.capitalize())
            self.addAction(action)
            self.actions[key] = action
        A("cut", "Cu&t", self.cut, K.Cut, "Cut the selected nodes")
        A("copy", "&Copy", self.copy, K.Copy, "Copy the selected nodes (and the edges between them)")
        A("paste", "&Paste", self.paste, K.Paste, "Paste nodes")
        A("duplicate", "&Duplicate", self.duplicate, "Ctrl+D", "Duplicate the selected nodes")
        A("delete", "De&lete", self.delete_selection, [K.Delete, "Backspace"],
          "Delete the selected nodes and connections")
        A("select_all", "Select &All", self.select_all, K.SelectAll, "Select every node")
        A("find_node", "&Find Node…", self.focus_palette_search, K.Find, "Search the node palette")
        A("zoom_in", "Zoom &In", lambda: self.view.zoom_by(1.25), [K.ZoomIn, "Ctrl+="],
          "Zoom in")
        A("zoom_out", "Zoom &Out", lambda: self.view.zoom_by(0.8), K.ZoomOut, "Zoom out")
        A("fit", "&Fit to Window", self.view.fit, "Ctrl+0", "Show the whole graph")
        A("auto_layout", "&Auto-layout", self.auto_layout, "Ctrl+L",
          "Arrange the graph in layers from left to right (one undo step)")
        A("snap", "&Snap to Grid", self.set_snap, None, "Align moved nodes to the grid", True)
        A("dark", "&Dark Theme", self.set_dark, "Ctrl+Shift+T", "Switch between light and dark",
          True)
        self.actions["dark"].setChecked(theme.is_dark())
        A("validate", "&Validate", self.validate, "F7", "Check the graph and infer every shape")
        A("train", "&Train", None, "F5", "Train the model on the loaded data")
        A("pause", "&Pause", None, "F6", "Pause training")
        A("stop", "S&top", None, "Shift+F5", "Stop training")
        for key in ("train", "pause", "stop"):
            self.actions[key].setEnabled(False)
        A("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, K.HelpContents,
          "List the keyboard and mouse shortcuts")
        A("about", "&About Workbench", self.show_about, None, "Version and licence")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = self.menus
        m["file"] = bar.addMenu("&File")
        m["file"].addAction(self.actions["new"])
        m["templates"] = m["file"].addMenu("New from &Template")
        for name, text in templates.TEMPLATES.items():
            act = m["templates"].addAction(name, lambda n=name: self.new_from_template(n))
            act.setStatusTip(text)
            act.setToolTip(text)
        example = m["file"].addAction("New from E&xample…", self.new_from_example)
        example.setStatusTip("Open one of the bundled example projects, with its data")
        m["file"].addAction(self.actions["open"])
        m["recent"] = m["file"].addMenu("Open &Recent")
        m["recent"].aboutToShow.connect(self._fill_recent)
        m["file"].addAction(self.actions["import_model"])
        m["file"].addSeparator()
        m["file"].addAction(self.actions["save"])
        m["file"].addAction(self.actions["save_as"])
        m["file"].addAction(self.actions["export"])
        m["file"].addSeparator()
        m["file"].addAction(self.actions["quit"])
        m["edit"] = bar.addMenu("&Edit")
        for key in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None,
                    "select_all", "find_node"):
            m["edit"].addSeparator() if key is None else m["edit"].addAction(self.actions[key])
        m["view"] = bar.addMenu("&View")
        for key in ("zoom_in", "zoom_out", "fit", None, "auto_layout", "snap", None, "dark"):
            m["view"].addSeparator() if key is None else m["view"].addAction(self.actions[key])
        m["view"].addSeparator()
        m["panels"] = m["view"].addMenu("&Panels")
        for dock in self.docks.values():
            m["panels"].addAction(dock.toggleViewAction())
        m["run"] = bar.addMenu("&Run")
        for key in ("validate", None, "train", "pause", "stop"):
            m["run"].addSeparator() if key is None else m["run"].addAction(self.actions[key])
        m["help"] = bar.addMenu("&Help")
        m["help"].addAction(self.actions["shortcuts"])
        m["help"].addAction(self.actions["about"])

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main toolbar", self)
        tb.setObjectName("toolbar_main")
        tb.setToolButtonStyle(Qt.ToolButtonTextOnly)
        tb.setMovable(False)
        self.addToolBar(Qt.TopToolBarArea, tb)
        self.toolbar = tb
        for key in ("new", "open", "save", None, "undo", "redo", None, "delete", None, "fit",
                    "auto_layout", None, "validate", "train", "stop", None, "export"):
            tb.addSeparator() if key is None else tb.addAction(self.actions[key])

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.device_label = QLabel("device: …")
        self.validation_label = QLabel("")
        self.save_label = QLabel("")
        self.zoom_label = QLabel("100%")
        for w in (self.validation_label, self.save_label, self.device_label, self.zoom_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    def _detect_device(self) -> None:
        self.device_label.setText(detect_device())

    # -- document ---------------------------------------------------------------------------
    def set_document(self, document: Document) -> None:
        old = self.document
        if old is not None:
            old.analysed.disconnect(self._on_analysis)
            old.dirtyChanged.disconnect(self._update_title)
            old.pathChanged.disconnect(self._update_title)
            old.autosaved.disconnect(self._on_autosaved)
            self.undo_group.removeStack(old.undo_stack)
            old.close()
            old.deleteLater()
        self.document = document
        document.setParent(self)
        self.undo_group.addStack(document.undo_stack)
        self.undo_group.setActiveStack(document.undo_stack)
        self.statusBar().clearMessage()   # the last project's news is not this one's
        self.scene.set_document(document)
        for panel in self.panels.values():
            if isinstance(panel, DocumentPanel):
                panel.set_document(document)
        document.analysed.connect(self._on_analysis)
        document.dirtyChanged.connect(self._update_title)
        document.pathChanged.connect(self._update_title)
        document.autosaved.connect(self._on_autosaved)
        self._on_analysis(document.analysis)
        self._update_title()
        self._selection_changed()
        QTimer.singleShot(0, self.show_graph)
        self.documentChanged.emit(document)

    def show_graph(self) -> None:
        """The whole graph when it reads fitted, else its start at a readable zoom."""
        self.view.show_start(readable=READABLE)

    def canvas_size(self) -> tuple[float, float]:
        """The canvas's size in pixels (an estimate before the window is first shown)."""
        if self.view.isVisible():
            return float(self.view.viewport().width()), float(self.view.viewport().height())
        return float(self.width() - 540), float(self.height() * 0.6)

    def fit_example(self, project: Project) -> None:
        """A bundled example's long chain folded into rows when it would not read fitted into
        the canvas: the copy opens whole and readable (it is new and untitled: no undo step)."""
        graph = project.graph
        if not graph.nodes:
            return
        width, height = self.canvas_size()
        xs = [n.pos[0] for n in graph.nodes.values()]
        ys = [n.pos[1] for n in graph.nodes.values()]
        span_w, span_h = max(xs) - min(xs) + WIDTH + 80, max(ys) - min(ys) + 190
        if min(width / span_w, height / span_h) >= READABLE:
            return
        positions = {nid: n.pos for nid, n in graph.nodes.items()}
        for nid, pos in layout.wrapped(positions, width - 80, height - 80,
                                       node_size=(WIDTH, 110.0)).items():
            graph.move_node(nid, pos)

    @property
    def graph(self):
        return self.document.graph

    def _update_title(self, *_):
        doc = self.document
        self.setWindowTitle(f"{doc.name}[*] — Workbench")
        self.setWindowModified(doc.dirty)
        if doc.dirty:
            self.save_label.setText("● unsaved changes")
        else:
            self.save_label.setText("saved" if doc.path else "not saved yet")

    def _on_autosaved(self, path: str) -> None:
        from time import strftime
        self.save_label.setText(f"● unsaved · recovery copy {strftime('%H:%M')}")

    def _on_analysis(self, analysis) -> None:
        summary = analysis.summary()
        ok = analysis.valid
        colour = theme.canvas().ok if ok else theme.canvas().bad
        self.validation_label.setText(f"<span style='color:{colour}'>●</span> {summary}")
        warnings = len(analysis.problems) - len(analysis.errors)
        if warnings:
            self.validation_label.setToolTip(f"{warnings} warning{'s' if warnings != 1 else ''}")
        self.problems.show_analysis(analysis, self.graph)
        n = len(analysis.problems)
        self.docks["problems"].setWindowTitle(f"Problems ({n})" if n else "Problems")

    def show_message(self, text: str, ms: int = 8000) -> None:
        if text:
            self.statusBar().showMessage(text, ms)
        else:
            self.statusBar().clearMessage()

    # -- questions (tests replace these) ----------------------------------------------------
    def ask_unsaved(self) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Warning, "Unsaved changes",
                          f"Save the changes to '{self.document.name}' before closing it?",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Save)
        answer = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_stop_training(self, quitting: bool = False) -> str:
        """'stop' or 'cancel': a run is going on and the user is quitting or leaving it."""
        box = QMessageBox(QMessageBox.Question, "Training is running",
                          f"'{self.document.name}' is training. Stop the run "
                          f"{'and quit' if quitting else 'and close the project'}? The last "
                          "finished epoch's checkpoint is kept.", QMessageBox.Cancel, self)
        stop = box.addButton("Stop and quit" if quitting else "Stop and close",
                             QMessageBox.AcceptRole)
        box.setDefaultButton(QMessageBox.Cancel)
        box.exec()
        return "stop" if box.clickedButton() is stop else "cancel"

    def ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(self._start_dir()),
                                              FILE_FILTER)
        return path or None

    def ask_save_path(self) -> str | None:
        start = self.document.path or (self._start_dir()
                                       / f"{file_stem(self.document.name) or 'untitled'}.wbproj")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), FILE_FILTER)
        return path or None

    def ask_restore(self, records: list[dict]) -> bool:
        names = ", ".join(f"'{r.get('name') or 'untitled'}'" + (f" ({r['path']})" if r.get("path") else "")
                          for r in records)
        answer = QMessageBox.question(
            self, "Restore unsaved work?",
            f"Workbench did not close properly last time. Restore the unsaved changes to "
            f"{names}?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

    def show_error(self, title: str, text: str) -> None:
        self.show_message(text, 15000)
        if self.collected_errors is not None:
            self.collected_errors.append(text)
            return
        QMessageBox.warning(self, title, text)

    def _start_dir(self) -> Path:
        if self.document and self.document.path:
            return self.document.path.parent
        return Path.cwd()

    # -- files ------------------------------------------------------------------------------
    def maybe_save(self, quitting: bool = False) -> bool:
        """True if it is fine to drop the current document (saved, discarded or clean).
        A run going on is stopped first when the user agrees (its checkpoint stays)."""
        if self.document is not None and self.workflow.training_busy():
            if self.ask_stop_training(quitting) != "stop":
                return False
            if not self.workflow.stop_training():
                self.show_error("Training still running", "the run did not stop in time; "
                                "try again, or Stop (Shift+F5) and wait for it to end")
                return False
        if self.document is None or not self.document.dirty:
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_blank(self) -> bool:
        if not self.maybe_save():
            return False
        self.set_document(Document(Project()))
        return True

    def new_from_template(self, name: str) -> bool:
        if not self.maybe_save():
            return False
        try:
            project = template_project(name)
        except (KeyError, ValueError) as exc:
            self.show_error("New from template", str(exc))
            return False
        self.set_document(Document(project))
        self.show_message(f"new project from the {name} template")
        return True

    def new_from_example(self, path: str | os.PathLike | None = None) -> bool:
        """A bundled example as a new untitled project (chosen in a dialog unless given)."""
        from workbench.ui.dialogs.examples_dialog import ExamplesDialog, as_new_copy
        if path is None:
            dialog = ExamplesDialog(self)
            if not dialog.exec() or dialog.chosen() is None:
                return False
            path = dialog.chosen()
        if not self.maybe_save():
            return False
        try:
            project = as_new_copy(Path(path))
        except ProjectError as exc:
            self.show_error("Cannot open example", str(exc))
            return False
        self.fit_example(project)
        self.set_document(Document(project))
        self.show_message(f"new project from the example '{project.name}': {project.description}")
        return True

    def open_file(self, path: str | os.PathLike | None = None) -> bool:
        if path is None:
            path = self.ask_open_path()
            if not path:
                return False
        if is_bundled_example(path):  # `make run`, `workbench gui <example>`: never written to
            return self.new_from_example(path)
        if not self.maybe_save():
            return False
        try:
            project = project_io.load(path)
        except ProjectError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        self.set_document(Document(project))
        self._add_recent(str(Path(path).resolve()))
        self.show_message(f"opened {path}")
        return True

    def import_model(self, model: str | None = None):
        """File › Import Model…: the dialog (one per window, kept with its last report);
        `model`: a dropped model file, filled in."""
        from workbench.ui.dialogs.import_dialog import ImportDialog
        if self.import_dialog is None:
            self.import_dialog = ImportDialog(self.threads, self._start_dir(), self)
            self.import_dialog.imported.connect(self._open_imported)
        self.import_dialog.start_dir = self._start_dir()   # beside the project on screen
        if isinstance(model, str) and model:
            self.import_dialog.model.setText(model)
        self.import_dialog.show()
        self.import_dialog.raise_()
        return self.import_dialog

    def _open_imported(self, path) -> None:
        info = self.import_dialog.info or {}
        if not self.open_file(path):   # the user kept the current project
            self.show_message(f"imported to {path}; open it with File › Open")
            return
        diff = info.get("max_diff")
        check = ("not verified" if diff is None else
                 f"max difference {diff:.1e}, {'matches' if info.get('matched') else 'does NOT match'}"
                 " the source")
        self.show_message(f"imported '{self.document.name}': {info.get('nodes', 0)} nodes, "
                          f"{info.get('opaque', 0)} opaque, {check}", 15000)

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(None)

    def save_as(self, path: str | os.PathLike | None = None) -> bool:
        path = path or self.ask_save_path()
        if not path:
            return False
        return self._save_to(path)

    def _save_to(self, path) -> bool:
        try:
            target = self.document.save(path)
        except (ProjectError, OSError, ValueError) as exc:
            self.show_error("Cannot save", f"{exc}")
            return False
        self._add_recent(str(target.resolve()))
        self._update_title()
        note, self.workflow.save_note = self.workflow.save_note, ""
        self.show_message(f"saved {target}{note}")
        return True

    def offer_recovery(self) -> bool:
        """After a crash: offer the recovery copies left behind; True if one was restored."""
        records = find_recoveries()
        if not records:
            return False
        if not self.ask_restore(records):
            for r in records:
                Path(r["recovery_file"]).unlink(missing_ok=True)
            return False
        record = max(records, key=lambda r: r.get("time", 0))
        try:
            project = restore(record)
        except ProjectError as exc:
            self.show_error("Cannot restore", str(exc))
            return False
        self.set_document(Document(project, dirty=True, untitled_id=record.get("untitled_id")))
        for r in records:
            Path(r["recovery_file"]).unlink(missing_ok=True)
        self.document.autosave()  # keep a copy until the user saves
        self.show_message(f"restored unsaved changes to '{self.document.name}'")
        return True

    def _add_recent(self, path: str) -> None:
        self._recent = [path] + [p for p in self._recent if p != path][:MAX_RECENT - 1]
        if settings_enabled():
            QSettings().setValue("recent", self._recent)

    def _fill_recent(self) -> None:
        menu = self.menus["recent"]
        menu.clear()
        for path in self._recent:
            menu.addAction(path, lambda p=path: self.open_file(p))
        if not self._recent:
            menu.addAction("(none)").setEnabled(False)

    # -- editing ----------------------------------------------------------------------------
    def add_node_at(self, type_name: str, pos: QPointF) -> str | None:
        node_id = self.scene.add_node(type_name, pos)  # onto a connection: inserted into it
        if node_id is not None:
            self.view.setFocus()
        return node_id

    def add_node_at_centre(self, type_name: str) -> str | None:
        node_id = self.scene.add_node(type_name, self.view.centre_scene_pos(), free=True)
        if node_id is not None:
            self.view.setFocus()
        return node_id

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_nodes(ids)
        has_nodes = bool(ids)
        for key in ("cut", "copy", "duplicate"):
            self.actions[key].setEnabled(has_nodes)
        self.actions["delete"].setEnabled(has_nodes or bool(self.scene.selected_edges()))

    def select_all(self) -> None:
        self.scene.select_nodes(list(self.scene.nodes))

    def delete_selection(self) -> None:
        ids, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        if not ids and not edges:
            return
        self.document.push(commands.RemoveItems(self.graph, ids, edges))

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            self.show_message("nothing selected to copy")
            return False
        text = clipboard.to_json(clipboard.copy_selection(self.graph, ids))
        mime = QMimeData()
        mime.setData(clipboard.MIME_TYPE, QByteArray(text.encode("utf-8")))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        self.show_message(f"copied {len(ids)} node{'s' if len(ids) != 1 else ''}")
        return True

    def cut(self) -> None:
        if self.copy():
            ids = self.scene.selected_node_ids()
            cmd = commands.RemoveItems(self.graph, ids, [])
            cmd.setText(f"Cut {len(ids)} node{'s' if len(ids) != 1 else ''}")
            self.document.push(cmd)

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return []
        if mime.hasFormat(clipboard.MIME_TYPE):
            text = bytes(mime.data(clipboard.MIME_TYPE)).decode("utf-8")
        else:
            text = mime.text()
        try:
            selection = clipboard.from_json(text)
        except clipboard.ClipboardError as exc:
            self.show_message(f"cannot paste: {exc}")
            return []
        last, count = self._paste
        count = count + 1 if text == last else 1
        self._paste = (text, count)
        return self._insert(selection, (GRID * 2 * count, GRID * 2 * count), "Paste")

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        return self._insert(clipboard.copy_selection(self.graph, ids), (GRID * 2, GRID * 2),
                            "Duplicate")

    def _insert(self, selection: dict, offset, text: str) -> list[str]:
        try:
            nodes, edges = clipboard.prepare_paste(self.graph, selection, offset)
        except clipboard.ClipboardError as exc:
            self.show_message(f"cannot paste: {exc}")
            return []
        if not nodes:
            return []
        self.document.push(commands.InsertNodes(self.graph, nodes, edges, text))
        ids = [n.id for n in nodes]
        self.scene.select_nodes(ids)
        return ids

    def auto_layout(self) -> None:
        try:
            positions = layout.compact(self.graph)   # wraps a long imported chain into bands
        except GraphError as exc:
            self.show_message(f"cannot lay out: {exc}")
            return
        moves = {nid: (self.graph.nodes[nid].pos, pos) for nid, pos in positions.items()
                 if tuple(self.graph.nodes[nid].pos) != tuple(pos)}
        if moves:
            self.document.push(commands.MoveNodes(self.graph, moves, "Auto-layout"))
        self.view.fit()

    def validate(self) -> None:
        analysis = self.document.validate_now()
        self.docks["problems"].show()
        self.docks["problems"].raise_()
        self.show_message(f"validated: {analysis.summary()}")

    def reveal_node(self, node_id: str) -> None:
        item = self.scene.nodes.get(node_id)
        if item is None:
            return
        self.scene.select_nodes([node_id])
        self.view.centerOn(item)

    def focus_palette_search(self) -> None:
        self.docks["palette"].show()
        self.palette.search.setFocus()
        self.palette.search.selectAll()

    def set_snap(self, on: bool) -> None:
        self.scene.snap_to_grid = bool(on)

    def set_dark(self, dark: bool) -> None:
        app = QApplication.instance()
        theme.apply(app, bool(dark))
        self.refresh_theme()
        if settings_enabled():
            QSettings().setValue("dark", bool(dark))

    def refresh_theme(self) -> None:
        self.actions["dark"].setChecked(theme.is_dark())
        for item in self.scene.items():
            item.update()
        self.scene.invalidate()
        self.view.viewport().update()
        self.palette.populate()
        self._on_analysis(self.document.analysis)

    # -- context menus ----------------------------------------------------------------------
    def build_context_menu(self, pos: QPointF, item) -> QMenu:
        menu = QMenu(self)
        while item is not None and not isinstance(item, (NodeItem, EdgeItem)):
            item = item.parentItem()
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.scene.select_nodes([item.node_id])
            rename = menu.addAction("Rename…")
            rename.triggered.connect(self._focus_title)
            for key in ("duplicate", "copy", "cut", "delete"):
                menu.addAction(self.actions[key])
            menu.addSeparator()
            nid = item.node_id
            disconnect = menu.addAction("Disconnect All")
            disconnect.triggered.connect(lambda: self._disconnect_all(nid))
            for text, target in self.inspector.structure_targets():   # repeat / branches
                menu.addAction(text, lambda t=target: self.inspector.open_target(t))
            menu.addSeparator()
            freeze = menu.addAction("Freeze up to here", lambda: self.freeze_up_to(nid))
            freeze.setStatusTip("Freeze this node and every layer with weights before it "
                                "(fine-tuning: training leaves their weights as they are)")
            self._add_unfreeze_all(menu)
        elif isinstance(item, EdgeItem):
            edge = item.edge
            menu.addAction("Delete Connection",
                           lambda: self.document.push(commands.Disconnect(self.graph, edge)))
        else:
            add = menu.addMenu("Add Node")
            from workbench.core import catalog
            for category, specs in catalog.by_category().items():
                sub = add.addMenu(category)
                for spec in specs:
                    sub.addAction(spec.type, lambda t=spec.type, p=QPointF(pos): self.add_node_at(t, p))
            menu.addAction(self.actions["paste"])
            menu.addAction(self.actions["select_all"])
            menu.addSeparator()
            menu.addAction(self.actions["fit"])
            menu.addAction(self.actions["auto_layout"])
            self._add_unfreeze_all(menu)
        return menu

    def _add_unfreeze_all(self, menu: QMenu) -> None:
        action = menu.addAction("Unfreeze all", self.unfreeze_all)
        action.setEnabled(any(not n.trainable for n in self.graph.nodes.values()))

    def freeze_up_to(self, node_id: str) -> None:
        """One undo step freezing the node and every model node with weights upstream."""
        command = freezing.freeze_up_to(self.graph, self.document.analysis, node_id)
        if command is None:
            self.show_message("nothing to freeze: no trainable layer with weights up to here")
            return
        self.document.push(command)
        n = len(command.node_ids)
        self.show_message(f"froze {n} node{'s' if n != 1 else ''} up to "
                          f"'{self.graph.nodes[node_id].title}'")

    def unfreeze_all(self) -> None:
        command = freezing.unfreeze_all(self.graph)
        if command is None:
            self.show_message("nothing is frozen")
            return
        self.document.push(command)
        n = len(command.node_ids)
        self.show_message(f"unfroze {n} node{'s' if n != 1 else ''}")

    def _context_menu(self, pos: QPointF, item) -> None:
        self.build_context_menu(pos, item).exec(QCursor.pos())

    def _focus_title(self) -> None:
        self.docks["inspector"].show()
        field = self.inspector.fields.get("__title__")
        if field is not None:
            field.setFocus()
            field.selectAll()

    def _disconnect_all(self, node_id: str) -> None:
        edges = [e for e in self.graph.edges if node_id in (e.src, e.dst)]
        if edges:
            self.document.push(commands.RemoveItems(self.graph, [], edges))

    # -- help -------------------------------------------------------------------------------
    def shortcuts_text(self) -> str:
        rows = []
        for menu_key in ("file", "edit", "view", "run", "help"):
            for action in self.menus[menu_key].actions():
                if action.shortcut():
                    rows.append(f"<tr><td>{action.text().replace('&', '')}</td><td><b>"
                                f"{action.shortcut().toString(QKeySequence.NativeText)}</b></td></tr>")
        mouse = [("Zoom around the cursor", "mouse wheel"), ("Pan", "middle-drag, or Space + drag"),
                 ("Connect", "drag from a port to a port"),
                 ("Disconnect", "drag an input's edge end onto empty canvas"),
                 ("Select several", "Ctrl/Shift-click, or drag a rectangle"),
                 ("Add a node", "drag from the palette, or double-click / Enter")]
        rows += [f"<tr><td>{a}</td><td><b>{b}</b></td></tr>" for a, b in mouse]
        return "<table cellspacing=4>" + "".join(rows) + "</table>"

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard and mouse shortcuts", self.shortcuts_text())

    def show_about(self) -> None:
        from workbench import __version__
        QMessageBox.about(self, "About Workbench",
                          f"<b>Workbench {__version__}</b><br>Design, train and export neural "
                          "networks on a node canvas.<br>MIT licence.")

    # -- drops of project files onto the window ---------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if project_paths(event.mimeData()) or data_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = project_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_file(paths[0]))
            return
        paths = data_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.workflow.open_data(paths[0]))

    # -- settings and closing ---------------------------------------------------------------
    def _load_settings(self) -> None:
        if not settings_enabled():
            return
        s = QSettings()
        geometry, state = s.value("geometry"), s.value("windowState")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.saved_state = state     # restored on first show, as the default one is made
        recent = s.value("recent") or []
        self._recent = [recent] if isinstance(recent, str) else list(recent)

    def save_settings(self) -> None:
        if not settings_enabled():
            return
        s = QSettings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("windowState", self.saveState())
        s.setValue("recent", self._recent)

    def closeEvent(self, event) -> None:
        if not self.maybe_save(quitting=True):
            event.ignore()
            return
        self.save_settings()
        self.workflow.shutdown()
        self.document.close()
        event.accept()


def detect_device() -> str:
    try:
        import torch
        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "GPU: Apple MPS"
    except Exception:  # a broken CUDA install must not stop the editor
        pass
    return "CPU"


__all__ = ["MainWindow", "template_project", "detect_device"]
