"""QThread bridges: long work (loading data, training, exporting) off the UI thread.

The rules (see DESIGN.md, "Qt threads"):
- a worker is a QObject moved to its own QThread; its `run` slot starts on `thread.started`;
- its results travel as signals, connected by the caller to `@Slot` methods of GUI-thread
  QObjects (never lambdas or partials, which would run in the worker thread);
- stopping goes through thread-safe flags (`threading.Event`, the trainer's pause/stop),
  never `QThread.terminate()`; on shutdown every thread is asked to stop, then `quit()` and
  `wait()`.
"""
from __future__ import annotations

import itertools
import threading
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

_tokens = itertools.count(1)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class Cancelled(Exception):
    """Raised by a task function that noticed its cancel flag."""


class Task(QObject):
    """Runs `fn(report, cancelled)` in a worker thread.

    `report(percent, text)` emits `progress`; `cancelled()` says whether the user cancelled.
    Every signal carries the task's token so that a caller can ignore a stale task's result.
    `expected` exceptions become a one-line `failed` message; others are prefixed with their type.
    """
    progress = Signal(int, int, str)     # token, percent (-1 = busy), text
    done = Signal(int, object)           # token, result
    failed = Signal(int, str)            # token, one-line message

    def __init__(self, fn: Callable, expected: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self.fn, self.expected = fn, expected
        self.token = next(_tokens)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, percent: int, text: str = "") -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self.progress.emit(self.token, int(percent), text)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self.report, self.cancelled)
        except Cancelled:
            self.failed.emit(self.token, "cancelled")
        except self.expected as exc:  # noqa: B030 - a tuple of exception types
            self.failed.emit(self.token, one_line(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user as one line, not a traceback
            self.failed.emit(self.token, f"{type(exc).__name__}: {one_line(exc)}")
        else:
            self.done.emit(self.token, result)


def keep_ui_core() -> None:
    """Leave one CPU core to the UI thread: PyTorch's intra-op pool would otherwise take all
    of them and the event loop would wait for the scheduler (p99 lateness doubled on 2 cores)."""
    import os

    import torch
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


class TrainingWorker(QObject):
    """Runs a constructed `Trainer` (made in the GUI thread) in a worker thread.

    The trainer's callbacks turn each Event into the `event` signal; the trainer already limits
    step events to ~20/s. pause/resume/stop are plain calls from the GUI thread, forwarded to
    the trainer's thread-safe methods.
    """
    event = Signal(object)       # workbench.train.events.Event
    finished = Signal(object)    # RunResult, or None when the trainer itself crashed
    failed = Signal(str)

    def __init__(self, trainer):
        super().__init__()
        self.trainer = trainer
        trainer.callbacks.append(self._on_event)

    def _on_event(self, event) -> None:  # runs in the worker thread
        self.event.emit(event)

    @Slot()
    def run(self) -> None:
        keep_ui_core()
        try:
            result = self.trainer.run()
        except Exception as exc:  # noqa: BLE001 - Trainer.run reports its own errors; this is a bug
            self.failed.emit(f"{type(exc).__name__}: {one_line(exc)}")
            result = None
        self.finished.emit(result)

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def stop(self) -> None:
        self.trainer.stop()


class Threads(QObject):
    """Owns the worker threads of a window: starts them, reaps them, stops them all on close."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.running: list[tuple[QThread, QObject]] = []

    def start(self, worker: QObject, entry: str = "run") -> QThread:
        thread = QThread()
        thread.setObjectName(f"workbench-{type(worker).__name__}")
        worker.moveToThread(thread)
        thread.started.connect(getattr(worker, entry))
        done = worker.done if hasattr(worker, "done") else worker.finished
        done.connect(thread.quit)
        if hasattr(worker, "failed") and isinstance(worker, Task):
            worker.failed.connect(thread.quit)
        thread.finished.connect(self._reap)
        self.running.append((thread, worker))
        thread.start()
        return thread

    @Slot()
    def _reap(self) -> None:
        still = []
        for thread, worker in self.running:
            if thread.isFinished():
                worker.deleteLater()
                thread.deleteLater()
            else:
                still.append((thread, worker))
        self.running = still

    def busy(self) -> bool:
        return any(t.isRunning() for t, _ in self.running)

    def stop_all(self, timeout_ms: int = 30_000) -> None:
        """Ask every worker to stop, then quit() and wait() each thread."""
        for thread, worker in self.running:
            for name in ("stop", "cancel"):
                method = getattr(worker, name, None)
                if method is not None:
                    method()
        for thread, _ in self.running:
            thread.quit()
            thread.wait(timeout_ms)
        self._reap()


class SearchWorker(QObject):
    """Runs a `workbench.search.Search` in a worker thread.

    The Search is made here, in the thread (it prepares the data and opens the study, which
    can take a while): `make()` returns it or raises SearchError. After each trial, and when a
    trial starts, the study's records (and the parameter importance) are read in this thread
    and sent whole, so the GUI thread never touches Optuna while the search writes to it.
    Step events are dropped: the panel shows trials and epochs, not batches.
    Every signal carries the worker's token, so a panel that moved on to another document
    ignores what a search of the last one still sends.
    """
    opened = Signal(int, object)      # token, {"objective", "multi", "directions", "name"}
    records = Signal(int, object, object)   # token, [TrialRecord], {name: importance} | None
    said = Signal(int, str)
    progress = Signal(int, int, int, int)   # token, trial number, epoch, epochs
    failed = Signal(int, str)
    finished = Signal(int, object)    # token, {"ran": n, "interrupted": bool} | None (failed)

    def __init__(self, make: Callable):
        super().__init__()
        self.make = make
        self.token = next(_tokens)
        self.search = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self.search is not None:
                self.search.stop()

    def _publish(self, with_importance: bool) -> None:
        from workbench.search.study import importance, records
        study = self.search.study
        self.records.emit(self.token, records(study), importance(study) if with_importance else None)

    def _on_event(self, number: int, e) -> None:   # runs in the worker thread
        if e.kind == "start":
            self._publish(False)
            self.progress.emit(self.token, number, 0, int(e.epochs or 0))
        elif e.kind == "epoch":
            self.progress.emit(self.token, number, int(e.epoch), int(e.epochs or 0))

    @Slot()
    def run(self) -> None:
        from workbench.search.study import SearchError
        keep_ui_core()
        try:
            search = self.make(on_trial=lambda record: self._publish(True), on_event=self._on_event,
                               say=lambda text: self.said.emit(self.token, text))
            with self._lock:
                self.search = search
                if self._stop.is_set():
                    search.stop()
            self.opened.emit(self.token, {"objective": search.objective,
                                          "multi": search.options.multi,
                                          "directions": list(search.directions),
                                          "name": search.name})
            self._publish(True)
            ran = search.run()
            self._publish(True)
        except SearchError as exc:
            self.failed.emit(self.token, one_line(exc))
            self.finished.emit(self.token, None)
            return
        except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
            self.failed.emit(self.token, f"{type(exc).__name__}: {one_line(exc)}")
            self.finished.emit(self.token, None)
            return
        self.finished.emit(self.token, {"ran": len(ran),
                                        "interrupted": search.interrupted or self._stop.is_set()})
