"""Starting the app: the QApplication, theme, main window; and the screenshot mode."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from workbench.resources import APP_ID, resource
from workbench.ui import gc_guard, theme

SCREENSHOT_SIZE = (1400, 860)


def make_app(argv: list[str] | None = None, dark: bool | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName("Workbench")
        QCoreApplication.setApplicationName("Workbench")
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setDesktopFileName(APP_ID)  # must match the .desktop file for the icon on Wayland
        if app.platformName() in ("offscreen", "minimal"):
            # PySide6 6.12 crashes at exit on these platforms when the clipboard holds
            # QMimeData (after a copy); a real desktop clipboard is left alone.
            import atexit
            atexit.register(lambda: QApplication.instance() and QApplication.clipboard().clear())
        icon = resource("icons", "workbench.svg")
        if icon.exists():
            from PySide6.QtGui import QIcon
            app.setWindowIcon(QIcon(str(icon)))
    gc_guard.install(app)  # workers must never destroy Qt objects through a collection
    if dark is None:
        dark = theme.is_dark()
        if os.environ.get("WORKBENCH_NO_SETTINGS", "") not in ("1", "true", "yes"):
            from PySide6.QtCore import QSettings
            dark = QSettings().value("dark", False, type=bool)
    theme.apply(app, dark)
    return app


def open_window(project: str | os.PathLike | None = None, collect_errors: bool = False):
    """`collect_errors`: errors go to `window.collected_errors`, never to a modal box."""
    from workbench.ui.main_window import MainWindow
    window = MainWindow()
    if collect_errors:
        window.collected_errors = []
    if project is not None:
        window.open_file(project)
    return window


def screenshot(window, path: str | os.PathLike, size=SCREENSHOT_SIZE) -> Path:
    """Lay the window out at a fixed size, draw it once and save it as PNG."""
    app = QApplication.instance()
    window.resize(*size)
    window.show()
    for _ in range(3):
        app.processEvents()
    window.document.validate_now()
    window.show_graph()
    app.processEvents()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    return path


def _wait_for_workers(window, timeout_s: float = 30.0) -> None:
    import time
    app = QApplication.instance()
    end = time.monotonic() + timeout_s
    while window.workflow.threads.busy() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def _screenshot_run(project: str | None, path: str, size: tuple[int, int]) -> int:
    """No modal dialog may wait for a click here: an error (a project that cannot be opened,
    data that cannot be read) is printed to stderr, one line each, no screenshot is written
    (a picture of an error state is not the one asked for) and the exit status is 1."""
    from workbench.core.files import short
    window = open_window(project, collect_errors=True)
    _wait_for_workers(window)  # the project's data loads in the background: show it loaded
    errors = list(window.collected_errors) + [e for e in [window.workflow.data.error()] if e]
    out = None
    if not errors:
        try:
            out = screenshot(window, path, size)
        except OSError as exc:
            errors.append(f"{path}: cannot write the screenshot ({exc.strerror or exc})")
    window.workflow.shutdown()
    window.document.close()
    window.hide()
    for error in errors:
        print(f"workbench: {short(error)}", file=sys.stderr)
    if out is None:
        return 1
    print(out)
    return 0


def run(project: str | None = None, screenshot_path: str | None = None,
        size: tuple[int, int] = SCREENSHOT_SIZE, dark: bool | None = None) -> int:
    app = make_app(dark=dark)
    if project is not None and not Path(project).exists():
        print(f"workbench: {project}: no such file", file=sys.stderr)
        return 1
    if screenshot_path:
        return _screenshot_run(project, screenshot_path, size)
    window = open_window(project)
    window.show()
    QTimer.singleShot(0, window.offer_recovery)
    return app.exec()
