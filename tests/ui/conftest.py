"""Fixtures for the app's tests: a themed QApplication, main windows, gesture helpers."""
from __future__ import annotations

import pytest

import workbench.ui  # noqa: F401  (applies the PySide6 None-refcount workaround first)
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from workbench.core import project as project_io


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Recovery files go to a temporary folder; no test ever writes the user's."""
    monkeypatch.setenv("WORKBENCH_RECOVERY_DIR", str(tmp_path / "recovery"))


@pytest.fixture
def app(qapp):
    from workbench.ui import theme
    theme.apply(qapp, False)
    return qapp


@pytest.fixture
def make_window(app, qtbot):
    from workbench.ui.document import Document
    from workbench.ui.main_window import MainWindow, template_project

    made = []

    def make(template: str | None = None, size=(1200, 800)):
        doc = Document(template_project(template)) if template else None
        win = MainWindow(doc)
        qtbot.addWidget(win)
        win.ask_unsaved = lambda: "discard"
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        win.view.resetTransform()
        app.processEvents()
        made.append(win)
        return win

    yield make
    for win in made:
        win.document.close()


@pytest.fixture
def window(make_window):
    return make_window()


def port_point(win, node_id: str, port: str, output: bool) -> QPoint:
    item = win.scene.nodes[node_id].port(port, output)
    return win.view.mapFromScene(item.scenePos())


def node_point(win, node_id: str) -> QPoint:
    item = win.scene.nodes[node_id]
    return win.view.mapFromScene(item.mapToScene(60, 12))  # on the header, away from ports


def drag(viewport, start: QPoint, end: QPoint, steps: int = 6, button=Qt.LeftButton,
         modifier=Qt.NoModifier) -> None:
    QTest.mousePress(viewport, button, modifier, start)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        QTest.mouseMove(viewport, p)
    QTest.mouseRelease(viewport, button, modifier, end)


def save_template(name: str, path) -> None:
    from workbench.ui.main_window import template_project
    project_io.save(template_project(name), path)


def dclick(widget, pos: QPoint) -> None:
    """A real double-click (QTest.mouseDClick does not make item views activate items)."""
    p = QPointF(pos)
    g = QPointF(widget.mapToGlobal(pos))
    for kind in (QEvent.MouseButtonPress, QEvent.MouseButtonRelease, QEvent.MouseButtonDblClick,
                 QEvent.MouseButtonRelease):
        held = Qt.NoButton if kind == QEvent.MouseButtonRelease else Qt.LeftButton
        QApplication.sendEvent(widget, QMouseEvent(kind, p, g, Qt.LeftButton, held, Qt.NoModifier))


@pytest.fixture(autouse=True, scope="session")
def _clear_clipboard_at_exit():
    """Qt frees the clipboard's data when the application goes; with PySide6 6.12 that can
    crash the interpreter at exit after a copy. Clear it while everything is still alive."""
    yield
    app = QApplication.instance()
    if app is not None:
        app.clipboard().clear()
        app.processEvents()
