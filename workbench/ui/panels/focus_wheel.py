"""Combo and spin boxes that take the mouse wheel only when focused.

Qt's combo and spin boxes change their value on any wheel event under the cursor, so
scrolling a table or a form full of them silently edits values (each an undo step). With
`wheel_when_focused(box)` a wheel over an unfocused box goes to the scroll area around it,
and a click (or Tab) is needed before the wheel edits.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QWidget


class _Filter(QObject):
    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            # ignored and filtered: Qt hands the wheel to the parent (the table's viewport)
            event.ignore()
            return True
        return False


_FILTER: _Filter | None = None


def wheel_when_focused(*widgets: QWidget) -> None:
    global _FILTER
    if _FILTER is None:
        _FILTER = _Filter()
    for w in widgets:
        w.setFocusPolicy(Qt.StrongFocus)  # the wheel alone does not focus it either
        w.installEventFilter(_FILTER)
