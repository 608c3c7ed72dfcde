"""Cycles are collected on the UI thread, never by a worker that happens to allocate."""
from __future__ import annotations

import gc
import threading

from workbench.ui import gc_guard


class _Cycle:
    """A reference cycle that records which thread finally destroyed it."""

    def __init__(self, log: list[str]):
        self.me = self
        self.log = log

    def __del__(self):
        self.log.append(threading.current_thread().name)


def test_a_worker_that_allocates_does_not_collect_and_the_ui_thread_does(app):
    assert gc_guard.installed() and not gc.isenabled()
    gc.collect()
    log: list[str] = []
    _Cycle(log)  # unreachable at once, freed only by a collection

    kept = []

    def allocate():  # far past gen 0's threshold; kept alive, as a training step's tensors are
        kept.extend([i] for i in range(50 * gc.get_threshold()[0]))

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert log == []
    assert gc.get_count()[0] > gc.get_threshold()[0]

    assert gc_guard.collect_if_due() >= 1
    assert log == ["MainThread"]
    del kept


def test_the_timer_collects_while_the_event_loop_runs(app, qtbot):
    # Python counts allocations minus frees: widgets of earlier tests deleted later in the
    # event loop would pull the count back under the threshold, so let them go first.
    from PySide6.QtCore import QEvent
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
    log: list[str] = []
    _Cycle(log)
    kept = [[i] for i in range(20 * gc.get_threshold()[0])]
    qtbot.waitUntil(lambda: log == ["MainThread"], timeout=3 * gc_guard.INTERVAL_MS)
    del kept
