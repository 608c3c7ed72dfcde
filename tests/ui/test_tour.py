"""Issue 13's "done when": the README tour plus New/Open/Save/Quit cycles print no traceback
(stderr and Qt's own messages are collected), and the default layout at 1400×900 and the
bundled example as opened are readable (screenshots in tests/_artifacts/, looked at)."""
from __future__ import annotations


import pytest
from PySide6.QtCore import QRectF, qInstallMessageHandler
from PySide6.QtWidgets import QScrollArea, QTabBar

from tests.conftest import EXAMPLES

TEXT_EXAMPLE = EXAMPLES / "text-classifier" / "project.wbproj"   # what `make run` opens
IRIS_EXAMPLE = EXAMPLES / "iris-classifier" / "project.wbproj"


@pytest.fixture
def qt_messages():
    """Every qDebug/qWarning/qCritical Qt prints while the test runs."""
    seen: list[str] = []
    previous = qInstallMessageHandler(lambda mode, context, text: seen.append(text))
    yield seen
    qInstallMessageHandler(previous)


def wait_data(qtbot, win) -> None:
    data = win.workflow.data
    qtbot.waitUntil(lambda: data.loaded is not None and not data.busy(), timeout=30_000)


def visible_tab_groups(win) -> list[list[str]]:
    return sorted([tb.tabText(i).split(" (")[0] for i in range(tb.count())]
                  for tb in win.findChildren(QTabBar) if tb.isVisible())


def test_readme_tour_and_file_cycles_print_no_traceback(make_window, qtbot, tmp_path,
                                                        monkeypatch, capfd, qt_messages):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    win = make_window(size=(1400, 900))
    wf, tp = win.workflow, win.workflow.training
    # the tour: the example, Train (one epoch), Export ONNX
    assert win.open_file(TEXT_EXAMPLE)
    wait_data(qtbot, win)
    tp.epochs.setValue(1)
    win.actions["train"].trigger()
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=120_000)
    assert tp.last_result.status == "completed", tp.error
    wf.ask_export_path = lambda: str(tmp_path / "text.onnx")
    assert wf.export_onnx()
    qtbot.waitUntil(lambda: not wf.exporter.busy(), timeout=120_000)
    assert wf.exporter.last_report is not None and wf.exporter.last_report.passed
    assert wf.export_box.isVisible()
    # Save As (the run moves along), New, Open it again, Save
    saved = tmp_path / "tour" / "text.wbproj"
    win.ask_save_path = lambda: str(saved)
    assert win.save()
    win.actions["new"].trigger()
    assert wf.runs.tree.topLevelItemCount() == 0 and not win.actions["export_onnx"].isEnabled()
    assert win.open_file(saved)
    wait_data(qtbot, win)
    assert wf.runs.tree.topLevelItemCount() == 1 and win.actions["export_onnx"].isEnabled()
    assert win.save()
    # New from an example, train, and Quit while it trains: Stop and quit
    assert win.open_file(IRIS_EXAMPLE)
    wait_data(qtbot, win)
    tp.epochs.setValue(100_000)
    win.actions["train"].trigger()
    qtbot.waitUntil(lambda: tp.series["train_step"].n >= 1, timeout=30_000)
    win.ask_stop_training = lambda quitting=False: "stop"
    assert win.close()
    assert tp.state == "idle" and not wf.threads.busy()
    qtbot.wait(50)

    printed = capfd.readouterr().err + "\n".join(qt_messages)
    assert "Traceback" not in printed, printed
    assert "already deleted" not in printed, printed


def test_default_layout_at_1400x900(make_window, qtbot, artifacts, monkeypatch, tmp_path):
    from workbench.ui.main_window import MIN_SIZE
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    win = make_window(size=(1400, 900))
    qtbot.wait(100)
    assert (win.minimumWidth(), win.minimumHeight()) == MIN_SIZE
    # one tab bar per tab group: no stale copy drawn over the palette
    assert visible_tab_groups(win) == [["Inspector", "Runs", "Insight"],
                                       ["Problems", "History", "Data", "Training", "Experiments"]]
    assert win.grab().save(str(artifacts / "layout-1400x900.png"))
    assert win.docks["problems"].height() >= 220             # the bottom panels are usable
    # the Data tab clicked open: a table of useful height, not ~100 px
    win.docks["data"].raise_()
    qtbot.waitUntil(lambda: win.docks["data"].height() >= 400, timeout=5_000)
    # the Training tab: the dashboard fits its width (nothing clipped on the right)
    win.docks["training"].raise_()
    qtbot.wait(100)
    area = win.docks["training"].widget()
    assert isinstance(area, QScrollArea)
    assert area.viewport().width() >= area.widget().minimumWidth()
    assert not area.horizontalScrollBar().isVisible()
    panel = win.workflow.training
    early = panel.patience.mapTo(area.viewport(), panel.patience.rect().bottomRight())
    assert early.x() <= area.viewport().width()              # the early-stop box is on screen
    # empty charts before any run: a 0..1 frame, no '(x0.001)' prefix
    left = panel.loss_plot.getPlotItem().getAxis("left")
    y0, y1 = panel.loss_plot.getPlotItem().getViewBox().viewRange()[1]
    assert -0.1 < y0 < 0.1 and 0.9 < y1 < 1.1 and not left.autoSIPrefix
    assert win.grab().save(str(artifacts / "layout-1400x900-training.png"))


def test_the_example_opens_whole_and_readable(make_window, qtbot, artifacts, monkeypatch,
                                              tmp_path):
    from workbench.ui.main_window import READABLE
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    win = make_window(size=(1400, 900))
    assert win.open_file(TEXT_EXAMPLE)
    wait_data(qtbot, win)
    qtbot.wait(100)
    assert win.view.zoom >= READABLE
    visible = QRectF(win.view.mapToScene(win.view.viewport().rect()).boundingRect())
    for nid, item in win.scene.nodes.items():
        assert visible.contains(item.sceneBoundingRect()), win.graph.nodes[nid].title
    assert not win.document.dirty                            # folding the copy is no edit
    assert win.grab().save(str(artifacts / "example-as-opened.png"))
