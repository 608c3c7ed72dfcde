"""File › New from Example: the bundled example projects, each with a thumbnail and a line.

An example opens as a new, untitled copy (its data paths made absolute), so saving never
writes into the installed examples folder.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout)

from workbench.core import project as project_io
from workbench.resources import examples_dir

PATH_ROLE = Qt.ItemDataRole.UserRole


def example_projects(folder: Path | None = None) -> list[tuple[Path, project_io.Project]]:
    """(path, project) for each readable example, the default (text classifier) first."""
    found = []
    for path in sorted((folder or examples_dir()).glob("*/project.wbproj")):
        try:
            found.append((path, project_io.load(path)))
        except project_io.ProjectError:
            continue
    found.sort(key=lambda item: item[0].parent.name != "text-classifier")
    return found


def as_new_copy(path: Path) -> project_io.Project:
    """The example as an untitled project whose data paths still point at the example data."""
    return project_io.untitled(project_io.load(path))


class ExamplesDialog(QDialog):
    def __init__(self, parent=None, folder: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("New from Example")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each example opens as a new project with its data, ready to train."))
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(260, 150))
        self.list.setGridSize(QSize(280, 250))
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSpacing(8)
        for path, project in example_projects(folder):
            thumb = path.parent / "thumbnail.png"
            icon = QIcon(QPixmap(str(thumb))) if thumb.exists() else QIcon()
            item = QListWidgetItem(icon, f"{project.name}\n{project.description}")
            item.setToolTip(project.description)
            item.setData(PATH_ROLE, str(path))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(self.accept)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> Path | None:
        item = self.list.currentItem()
        return Path(item.data(PATH_ROLE)) if item is not None else None
