"""The Qt binding itself: PySide6 6.12.0 drops a reference to None on every call of a void Qt
method, so on Python 3.11 (no immortal None) a long session dies in `none_dealloc`. The
dependency excludes that release; this test catches any other release with the same fault."""
import sys

from PySide6.QtWidgets import QWidget


def test_void_qt_calls_keep_the_reference_count_of_none(qapp):
    widget = QWidget()
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.update()
        widget.setToolTip("x")
    lost = before - sys.getrefcount(None)
    assert lost < 50, f"{lost} references to None lost in 2,000 void Qt calls (a broken PySide6 build)"
