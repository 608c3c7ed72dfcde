"""Undoable changes of the project's data and training settings (not the graph's nodes).

SetData stores new data settings and fits the Input/Target nodes to the prepared data
(`PreparedData.bind` goes through `Graph.set_param`, so the canvas and validation follow);
training settings nobody has chosen yet (the defaults of File › New) are sized from the
data by the rule `workbench new` uses (core.templates.sized_training); undo puts all back. SetTraining changes one training setting; successive edits of the same
setting (spin-box clicks) merge into one step.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from workbench.core import templates
from workbench.core.project import default_training
from workbench.core.training_settings import TrainingSettings, problems

_MERGE_TRAINING = 7001
_SIZED = ("epochs", "batch_size")
_SIZED_ES = ("metric", "patience")


def read_training(training) -> tuple[TrainingSettings, list[str]]:
    """The project's training settings as the panels show them, and their problems.

    Read through `TrainingSettings.from_dict` like every other reader; a bad value (a file
    saying `"epochs": "ten"`) is left out, so the widgets show its default while the problem
    (`training.epochs: ...`) is listed by validation and refuses Train, never a traceback."""
    found = problems(training)
    if not found:
        return TrainingSettings.from_dict(training), []
    usable: dict = {}
    for key, value in (training.items() if isinstance(training, dict) else ()):
        if key == "early_stopping" and isinstance(value, dict):
            usable[key] = {k: v for k, v in value.items() if not problems({key: {k: v}})}
        elif not problems({key: value}):
            usable[key] = value
    return TrainingSettings.from_dict(usable), found


def untouched(training: dict) -> bool:
    """True while the settings the sizing rule decides are still File › New's defaults."""
    settings, found = read_training(training)
    if found:
        return False    # a value the user wrote, even a bad one, is not the template's
    default = TrainingSettings.from_dict(default_training())
    return (all(getattr(settings, k) == getattr(default, k) for k in _SIZED)
            and all(getattr(settings.early_stopping, k) == getattr(default.early_stopping, k)
                    for k in _SIZED_ES))


class SetData(QUndoCommand):
    def __init__(self, document, settings: dict, prepared=None, text: str = "Set data"):
        super().__init__(text)
        self.document = document
        self.old = copy.deepcopy(document.project.data)
        self.new = copy.deepcopy(settings)
        self.prepared = prepared
        self.changes: list[tuple[str, str, object, object]] | None = None
        training = document.project.training
        self.old_training = copy.deepcopy(training)
        self.new_training = None
        if prepared is not None and untouched(training):
            self.new_training = templates.apply_sizing(training, prepared.rows, prepared.task)

    def redo(self) -> None:
        graph = self.document.graph
        self.document.project.data = copy.deepcopy(self.new)
        if self.new_training is not None:
            self.document.project.training = copy.deepcopy(self.new_training)
            self.document.trainingChanged.emit()
        if self.changes is None:
            self.changes = []
            if self.prepared is not None:
                self.changes = self.prepared.bind(graph)
        else:
            for nid, name, _old, new in self.changes:
                graph.set_param(nid, name, new)
        self.document.dataChanged.emit()

    def undo(self) -> None:
        graph = self.document.graph
        for nid, name, old, _new in reversed(self.changes or []):
            graph.set_param(nid, name, old)
        self.document.project.data = copy.deepcopy(self.old)
        if self.new_training is not None:
            self.document.project.training = copy.deepcopy(self.old_training)
            self.document.trainingChanged.emit()
        self.document.dataChanged.emit()


def _set(d: dict, key: str, value) -> None:
    """Set a dotted key; a part that is not an object in the file (`"early_stopping": "yes"`)
    becomes one: the user's edit replaces the bad value."""
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(d.get(part), dict):
            d[part] = {}
        d = d[part]
    d[parts[-1]] = value


class SetTraining(QUndoCommand):
    """One key of project.training (dotted for nested ones: 'early_stopping.patience').
    Undo puts the whole settings dict back as it was, so a key the file did not have is
    absent again (not set to a placeholder)."""

    def __init__(self, document, key: str, value, label: str | None = None):
        super().__init__(f"Set {label or key.replace('_', ' ')} to {value}")
        self.document, self.key, self.value = document, key, value
        self.old = copy.deepcopy(document.project.training)

    def id(self) -> int:
        return _MERGE_TRAINING

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetTraining) or other.key != self.key:
            return False
        self.value = other.value
        self.setText(other.text())
        return True

    def redo(self) -> None:
        _set(self.document.project.training, self.key, copy.deepcopy(self.value))
        self.document.trainingChanged.emit()

    def undo(self) -> None:
        self.document.project.training = copy.deepcopy(self.old)
        self.document.trainingChanged.emit()
