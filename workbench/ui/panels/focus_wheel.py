"""Combo and spin boxes that take the mouse wheel only when focused.

Qt's combo and spin boxes change their value on any wheel event under the cursor, so
scrolling a table or a form full of them silently edits values (each an undo step). With
`wheel_when_focused(box)` a wheel over an unfocused box goes to the scroll area around it,
and a click (or Tab) is needed before the wheel edits.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget


class _Filter(QObject):
    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Wheel or not isinstance(obj, QWidget) or obj.hasFocus():
            return False
        area = _scroll_area_around(obj)
        if area is None:  # ignored and filtered: Qt offers a real wheel to the parent
            event.ignore()
            return True
        # handed on explicitly, so that it scrolls whether or not Qt would propagate it
        viewport = area.viewport()
        pos = QPointF(viewport.mapFromGlobal(event.globalPosition().toPoint()))
        moved = QWheelEvent(pos, event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                            event.buttons(), event.modifiers(), event.phase(), event.inverted())
        QApplication.sendEvent(viewport, moved)
        event.setAccepted(moved.isAccepted())
        return True


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


_FILTER: _Filter | None = None


def wheel_when_focused(*widgets: QWidget) -> None:
    global _FILTER
    if _FILTER is None:
        _FILTER = _Filter()
    for w in widgets:
        w.setFocusPolicy(Qt.StrongFocus)  # the wheel alone does not focus it either
        w.installEventFilter(_FILTER)
