"""Exporting from the app: the one-click "Export ONNX" and the Export dialog's exports.

Both call `workbench.export.export_run` (what `workbench export` calls) in a worker thread, for
any format of the registry (`workbench.export.formats`), and report the verification (max
difference, dynamic axes) in the status bar.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from workbench.ui.workers import Task


def export_job(run: Path, fmt: str, out: Path, options: dict):
    def job(report, cancelled):
        from workbench.export.api import export_run
        report(-1, f"exporting {fmt}")
        return export_run(run, fmt, out, **options)
    return job


def describe(report) -> str:
    """One status-bar line: verified or not, max difference, dynamic axes, the file."""
    v = report.verification
    name = report.path.name if report.path else report.format
    if v is None:
        return f"{report.format} written: {name}" + (" (verified)" if report.passed else "")
    axes = "; ".join(f"{k}: {', '.join(a.split(' (')[0] for a in axes) or 'none'}"
                     for k, axes in v.dynamic_axes.items())
    head = "verified ✓" if report.passed else "verification FAILED ✗"
    text = f"{report.format.upper()} {head} {name} · max diff {v.max_abs_diff:.1e}"
    if axes:
        text += f" · dynamic axes {axes}"
    fixed = [f"{k}: {', '.join(a)}" for k, a in v.fixed_axes.items() if a]
    if fixed:
        text += f" · FIXED {'; '.join(fixed)}"
    return text


class Exporter(QObject):
    message = Signal(str)
    busyChanged = Signal(bool)
    finished = Signal(object)      # ExportReport
    failed = Signal(str)

    def __init__(self, threads, parent=None):
        super().__init__(parent)
        self.threads = threads
        self.task: Task | None = None
        self.last_report = None
        self.last_error = ""

    def busy(self) -> bool:
        return self.task is not None

    def start(self, run: Path, fmt: str, out: Path, **options) -> bool:
        if self.task is not None:
            self.message.emit("an export is already running")
            return False
        from workbench.export import formats
        from workbench.export.report import ExportError
        from workbench.train.checkpoint import CheckpointError
        try:
            label = formats.get(fmt).label
        except ExportError as exc:
            self.message.emit(str(exc))
            return False
        self.last_error = ""
        task = Task(export_job(Path(run), fmt, Path(out), options),
                    expected=(ExportError, CheckpointError, OSError, ValueError))
        task.done.connect(self._done)
        task.failed.connect(self._failed)
        self.task = task
        self.busyChanged.emit(True)
        self.message.emit(f"exporting {label} from {Path(run).name} ({options.get('checkpoint', 'best')} "
                          f"checkpoint) to {out}…")
        self.threads.start(task)
        return True

    @Slot(int, object)
    def _done(self, token: int, report) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        self.last_report = report
        self.busyChanged.emit(False)
        self.message.emit(describe(report))
        self.finished.emit(report)

    @Slot(int, str)
    def _failed(self, token: int, message: str) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        self.last_error = message
        self.busyChanged.emit(False)
        self.message.emit(f"export failed: {message}")
        self.failed.emit(message)
