"""Work around a PySide6 bug seen with PySide6 6.12 on Python 3.11.

Every call of a Qt method that returns nothing (setPen, setText, setX, ...) *decrements*
the reference count of Python's None without having incremented it (shiboken seems to
assume None is immortal, which it is only from Python 3.12). After some ten thousand such
calls None's count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc: deallocating None" — within seconds of painting a canvas.

If the bug is present, give None a reference count so large that it can never reach zero
(the same thing Python 3.12 does for all immortal objects). Nothing happens when it is not.
"""
from __future__ import annotations

import sys

_applied = False


def void_call_drops_none() -> bool:
    from PySide6.QtCore import QPointF
    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(64):
        point.setX(1.0)
    return sys.getrefcount(None) < before - 32


def protect_none() -> bool:
    """Apply the workaround if needed; True if it was applied (now or before)."""
    global _applied
    if _applied:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not void_call_drops_none():
        return False
    import ctypes
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 48
    _applied = True
    return True
