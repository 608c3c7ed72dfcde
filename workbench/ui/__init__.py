"""The desktop app (PySide6): main window, node editor and panels over the Qt-free core.

Nothing in workbench/core imports this package; this package shows the core and turns the
user's gestures into undoable commands on it.
"""
from workbench.ui._compat import protect_none as _protect_none

_protect_none()  # must run before any painting: see workbench/ui/_compat.py
