"""Starting the app: no-display message, screenshot mode, light and dark screenshots."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from workbench.cli import gui_cmd, main

from .conftest import save_template

ROOT = Path(__file__).resolve().parents[2]


def _no_display_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_no_display_prints_one_line_and_exits_2(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["gui"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no display" in err and "QT_QPA_PLATFORM=offscreen" in err and "validate" in err


def test_bare_workbench_without_display_in_a_fresh_process():
    if not sys.platform.startswith("linux"):
        return
    proc = subprocess.run([sys.executable, "-m", "workbench"], env=_no_display_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "no display" in proc.stderr
    assert "PySide6" not in proc.stderr


def test_gui_screenshot_command(tmp_path):
    project = tmp_path / "demo.wbproj"
    save_template("mlp-classifier", project)
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    # A bare `workbench PROJECT` opens the app too, like `workbench gui PROJECT`.
    proc = subprocess.run([sys.executable, "-m", "workbench", str(project), "--screenshot",
                           str(out), "--size", "1000x700"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)
    assert gui_cmd.no_display_reason() is None  # QT_QPA_PLATFORM is set in the test session


def _screenshot(make_window, dark: bool, artifacts: Path) -> Path:
    from PySide6.QtWidgets import QApplication

    from workbench.ui import app as ui_app, theme
    win = make_window("text-classifier", size=(1400, 860))
    theme.apply(QApplication.instance(), dark)
    win.refresh_theme()
    win.scene.select_nodes([win.graph.by_title("embedding").id])
    name = f"main-window-{'dark' if dark else 'light'}.png"
    path = ui_app.screenshot(win, artifacts / name, (1400, 860))
    theme.apply(QApplication.instance(), False)
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1400, 860)
    # the canvas background has the theme's colour
    centre = image.pixelColor(700, 120)
    assert (centre.lightness() < 80) == dark
    return path  # `make screenshots` copies it into docs/images for the README


def test_screenshot_light(make_window, artifacts):
    _screenshot(make_window, False, artifacts)


def test_screenshot_dark(make_window, artifacts):
    _screenshot(make_window, True, artifacts)


def test_many_void_qt_calls_do_not_abort_the_interpreter():
    """PySide6 6.12 on Python 3.11 drops a reference to None on each void call; see _compat."""
    import workbench.ui  # noqa: F401
    from PySide6.QtCore import QPointF
    p = QPointF()
    for _ in range(300_000):
        p.setX(1.0)
    assert sys.getrefcount(None) > 1000
