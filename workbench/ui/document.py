"""One open project: the core Project, its undo stack, dirty state, validation and recovery.

The document is the only place that changes the graph, always through `push(command)`.
Validation runs debounced after edits and announces the new Analysis. While there are
unsaved changes a recovery copy is written every 30 s; it is removed on save and on close.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from workbench.core import Analysis, Project, analyse, project as project_io, search_space
from workbench.core.analysis import WARNING, Problem
from workbench.core.atomic import write_text as write_atomic
from workbench.core.files import PROJECT_LIMIT, FileRefused, load_json, short
from workbench.resources import is_bundled_example

AUTOSAVE_MS = 30_000
VALIDATE_MS = 150
RECOVERY_SUFFIX = ".recovery.json"


def recovery_dir() -> Path:
    env = os.environ.get("WORKBENCH_RECOVERY_DIR")
    if env:
        return Path(env)
    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation) or str(
        Path.home() / ".local" / "share" / "workbench")
    return Path(base) / "recovery"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


_live_recovery_files: set[Path] = set()  # written by documents open in this process
_counter = [0]


def find_recoveries() -> list[dict]:
    """Recovery files left by a process that ended without closing its documents. One that
    cannot be read (not a regular file, too big, nested too deep, not a recovery record) is
    skipped with a warning on stderr: a bad file in the recovery folder never stops the app."""
    folder = recovery_dir()
    found = []
    for path in sorted(folder.glob(f"*{RECOVERY_SUFFIX}")) if folder.is_dir() else []:
        if path in _live_recovery_files:
            continue
        try:
            doc = _record(path, load_json(path, PROJECT_LIMIT, "recovery file"))
        except FileRefused as exc:
            print(f"workbench: recovery copy skipped: {exc}", file=sys.stderr)
            continue
        pid = doc["pid"]
        if pid and pid != os.getpid() and _alive(pid):
            continue  # another running Workbench owns it
        doc["recovery_file"] = str(path)
        found.append(doc)
    return found


_RECORD = {"pid": int, "time": (int, float), "path": str, "name": str, "untitled_id": str}


def _record(path: Path, doc) -> dict:
    """A recovery record whose fields have the types `autosave` writes; FileRefused if not."""
    if not isinstance(doc, dict) or not isinstance(doc.get("project"), dict):
        raise FileRefused(path, "not a recovery record (no project object in it)")
    for key, kind in _RECORD.items():
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise FileRefused(path, f"not a recovery record ({key} is {short(json.dumps(value), 40)})")
    doc["pid"] = doc.get("pid") or 0
    if not 0 <= doc["pid"] < 2 ** 31:
        raise FileRefused(path, f"not a recovery record (pid {doc['pid']})")
    untitled = doc.get("untitled_id")
    if untitled is not None and not (untitled.isascii() and untitled.isalnum() and len(untitled) <= 32):
        doc["untitled_id"] = None   # it names a folder: a fresh one rather than '../x'
    return doc


def restore(found: dict) -> Project:
    """The project of a recovery record, with its original path and name (a bundled example's
    comes back untitled: it is never written)."""
    project = project_io.from_dict(found["project"], found.get("recovery_file", "<recovery>"))
    if found.get("path"):
        project.path = Path(found["path"])
        if is_bundled_example(project.path):
            project_io.untitled(project)
    return project


def search_problems(project: Project) -> list[Problem]:
    """The search space's problems as warnings (a searched node deleted, a range the parameter
    refuses): they stop a search, not training, so they are never errors."""
    if "search" not in project.extra:
        return []
    try:
        space = search_space.of(project)
    except search_space.SpaceError as exc:
        return [Problem(None, str(exc), WARNING)]
    out = []
    for d in space.space:
        for message in search_space.problems(search_space.SearchSpace([d]), project.graph):
            out.append(Problem(d.node if d.node in project.graph.nodes else None, message, WARNING))
    return out


class Document(QObject):
    analysed = Signal(object)        # Analysis
    dirtyChanged = Signal(bool)
    pathChanged = Signal(object)     # Path | None
    autosaved = Signal(str)          # the recovery file
    dataChanged = Signal()           # project.data changed (an undoable SetData step)
    trainingChanged = Signal()       # project.training changed (an undoable SetTraining step)
    searchChanged = Signal()         # project.extra["search"] changed (an undoable SetSearchSpace)

    def __init__(self, project: Project | None = None, parent: QObject | None = None,
                 dirty: bool = False, untitled_id: str | None = None):
        super().__init__(parent)
        self.project = project or Project()
        # Names this document's runs folder while it is untitled, so two untitled projects (or
        # two copies of one example) never share runs; kept in the recovery copy.
        self.untitled_id = untitled_id or uuid.uuid4().hex[:8]
        self.undo_stack = QUndoStack(self)
        self.analysis: Analysis = Analysis()
        self._forced_dirty = dirty
        self.data_fit = None  # the loaded data's rules (data.fitted.DataFit), set by the Data panel
        self._validate_timer = QTimer(self, singleShot=True, interval=VALIDATE_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self._autosave_timer = QTimer(self, interval=AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()
        _counter[0] += 1
        self.recovery_file = recovery_dir() / f"{os.getpid()}-{_counter[0]}{RECOVERY_SUFFIX}"
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.graph.subscribe(self._on_graph_event)
        self.trainingChanged.connect(self._validate_timer.start)  # `training.epochs: ...` goes
        self.searchChanged.connect(self._validate_timer.start)    # `search 'x': ...` too
        self.validate_now()

    # -- state ------------------------------------------------------------------------------
    @property
    def graph(self):
        return self.project.graph

    @property
    def path(self) -> Path | None:
        return self.project.path

    @property
    def name(self) -> str:
        return self.project.path.stem if self.project.path else self.project.name

    @property
    def dirty(self) -> bool:
        return self._forced_dirty or not self.undo_stack.isClean()

    @Slot(bool)
    def _clean_changed(self, clean: bool) -> None:
        self.dirtyChanged.emit(self.dirty)

    def push(self, command: QUndoCommand) -> None:
        if self.data_fit is not None and hasattr(command, "fitter"):
            command.fitter = self.data_fit.changes  # nodes it adds or rewires fit the data
        self.undo_stack.push(command)

    def _on_graph_event(self, event) -> None:
        self._validate_timer.start()

    # -- validation -------------------------------------------------------------------------
    def validate_now(self) -> Analysis:
        self._validate_timer.stop()
        self.analysis = analyse(self.graph, self.project.training)  # bad settings by key too
        if self.data_fit is not None:  # where the graph and the loaded data disagree
            self.analysis.problems += self.data_fit.problems(self.graph)
        self.analysis.problems += search_problems(self.project)
        self.analysed.emit(self.analysis)
        return self.analysis

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Atomic save through the core; raises ProjectError/OSError for the caller to show."""
        target = Path(path) if path else self.project.path
        if target is None:
            raise ValueError("no file name yet: use Save As")
        if target.suffix != project_io.SUFFIX:
            target = target.with_suffix(project_io.SUFFIX)
        if path and self.project.path is None:
            self.project.name = target.stem
        project_io.save(self.project, target)
        self._forced_dirty = False
        self.undo_stack.setClean()
        self.discard_recovery()
        self.dirtyChanged.emit(False)
        self.pathChanged.emit(target)
        return target

    # -- recovery ---------------------------------------------------------------------------
    def autosave(self) -> Path | None:
        """Write a recovery copy if there are unsaved changes."""
        if not self.dirty:
            return None
        record = {"pid": os.getpid(), "time": time.time(),
                  "path": str(self.project.path) if self.project.path else None,
                  "name": self.name, "untitled_id": self.untitled_id,
                  "project": self.project.to_dict()}
        write_atomic(self.recovery_file, json.dumps(record, ensure_ascii=False))
        _live_recovery_files.add(self.recovery_file)
        self.autosaved.emit(str(self.recovery_file))
        return self.recovery_file

    def discard_recovery(self) -> None:
        self.recovery_file.unlink(missing_ok=True)
        _live_recovery_files.discard(self.recovery_file)

    def close(self) -> None:
        """The user closed it on purpose: stop timers, forget the recovery copy."""
        self._autosave_timer.stop()
        self._validate_timer.stop()
        self.graph.unsubscribe(self._on_graph_event)
        self.discard_recovery()
