"""Garbage collection on the UI thread only.

Python's cyclic collector runs in whichever thread happens to allocate when a threshold is
crossed. If that is a worker (training, data loading, export) and the cycle holds a Qt object,
the object is destroyed off the GUI thread and Qt crashes the process (seen in CI: a segfault
inside an import in the cluster-export thread). So while the app runs, automatic collection is
off and the UI thread collects on a timer, with the same generation thresholds Python uses.

A full collection walks every object (torch, pandas and Qt make ~200,000 of them: 110 ms here),
so the startup objects are frozen once the window is up (gc.freeze: never scanned again; cycles
among them that die later are not reclaimed) and the oldest generation is swept at most once a
minute: the UI thread then pays a few milliseconds, not a tenth of a second.
"""
from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
FULL_EVERY_S = 60.0

_timer: QTimer | None = None
_thresholds = gc.get_threshold()
_last_full = 0.0


def install(app: QObject) -> None:
    """Turn automatic collection off and collect from `app`'s thread instead; idempotent."""
    global _timer
    if _timer is not None:
        return
    _timer = QTimer(app)
    _timer.setObjectName("workbench-gc")
    _timer.timeout.connect(collect_if_due)
    gc.disable()
    _timer.start(INTERVAL_MS)
    QTimer.singleShot(0, _freeze_startup)  # runs once the event loop starts: window and imports done


def _freeze_startup() -> None:
    global _last_full
    gc.collect()
    gc.freeze()
    _last_full = time.monotonic()


def installed() -> bool:
    return _timer is not None


def collect_if_due() -> int:
    """Collect the generations whose counts passed Python's thresholds; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return 0
    global _last_full
    counts = gc.get_count()
    found = 0
    for generation in range(3):
        if counts[generation] <= _thresholds[generation]:
            break
        if generation == 2:
            if time.monotonic() - _last_full < FULL_EVERY_S:
                break
            _last_full = time.monotonic()
        found = gc.collect(generation)
    return found
