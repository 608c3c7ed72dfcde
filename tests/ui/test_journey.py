"""The whole user journey in the real main window (issue 7's "done when"):

new project from the text-classifier template → load debian_sections/train.txt with test.txt
→ train two epochs → the charts receive points → pause and resume → export ONNX with one
click → the file verifies (the export report, and onnxruntime against PyTorch here).
Screenshots of the data panel and of the dashboard during and after training are saved.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.conftest import DATA

TRAIN = DATA / "debian_sections" / "train.txt"
TEST = DATA / "debian_sections" / "test.txt"


def toolbar_button(win, key):
    return win.toolbar.widgetForAction(win.actions[key])


def set_spin(qtbot, spin, value: int) -> None:
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, str(value))
    QTest.keyClick(spin, Qt.Key_Enter)
    assert spin.value() == value


def test_whole_journey(make_window, qtbot, tmp_path, monkeypatch, artifacts):
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    win = make_window(size=(1500, 940))
    wf = win.workflow

    # 1. File › New from Template › text-classifier
    action = next(a for a in win.menus["templates"].actions() if a.text() == "text-classifier")
    action.trigger()
    graph = win.graph
    assert {n.type for n in graph.nodes.values()} >= {"Input", "Embedding", "Linear", "Target"}

    # 2. Open Data (the file dialog answered), then the separate test file
    wf.data.ask_data_path = lambda title: str(TEST if "test" in title.lower() else TRAIN)
    qtbot.mouseClick(toolbar_button(win, "open_data"), Qt.LeftButton)
    assert wf.data.progress.isVisible() or wf.data.loaded is not None  # loads off the UI thread
    qtbot.waitUntil(lambda: wf.data.loaded is not None, timeout=30_000)
    qtbot.mouseClick(wf.data.test_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not wf.data.busy(), timeout=30_000)
    loaded = wf.data.loaded
    assert loaded.settings["test_path"].endswith("test.txt")
    assert win.document.project.data == loaded.settings          # saved in the project
    assert wf.data.model.rowCount() == 8032 and wf.data.model.columnCount() == 2
    assert len(loaded.prepared.test) == 2008
    # the graph took the data's shapes: Input, Target, and the head's width (10 classes)
    nodes = {n.type: n for n in graph.nodes.values()}
    assert nodes["Target"].params["num_classes"] == 10
    assert nodes["Input"].params["cardinality"] == loaded.prepared.cardinality
    assert nodes["Linear"].params["out_features"] == 10
    win.document.validate_now()
    assert win.document.analysis.valid, win.document.analysis.summary()
    assert wf.data.bars is not None                               # class balance chart drawn
    dock = win.docks["data"]
    dock.setFloating(True)                     # a floating panel, as a user would enlarge it
    dock.resize(1150, 560)
    dock.show()
    qtbot.wait(100)
    assert dock.grab().save(str(artifacts / "data-panel.png"))
    dock.setFloating(False)
    qtbot.wait(50)
    win.resizeDocks([win.docks["training"]], [520], Qt.Vertical)   # the dashboard's usual height

    # 3. Training settings (saved in the project, undoable), then Train
    wf.show_panel("training")
    tp = wf.training
    set_spin(qtbot, tp.epochs, 2)
    set_spin(qtbot, tp.batch, 16)
    assert win.document.project.training["epochs"] == 2
    assert win.document.project.training["batch_size"] == 16
    qtbot.mouseClick(toolbar_button(win, "train"), Qt.LeftButton)
    assert tp.state == "running"
    qtbot.waitUntil(lambda: tp.series["train_step"].n >= 1, timeout=30_000)
    qtbot.waitUntil(lambda: tp.series["val"].n >= 1, timeout=30_000)   # epoch 1 done
    # 4. Pause (the charts stop growing), screenshot, Resume
    qtbot.mouseClick(toolbar_button(win, "pause"), Qt.LeftButton)
    qtbot.waitUntil(lambda: tp.state == "paused", timeout=10_000)
    assert win.actions["pause"].text().replace("&", "") == "Resume"
    qtbot.wait(120)                                               # a few redraws
    steps = tp.series["train_step"].n
    x, y = tp.curves["train_step"].getData()
    assert x is not None and len(x) >= 1 and np.isfinite(y).all()  # the chart has the points
    qtbot.wait(300)
    assert tp.series["train_step"].n == steps                     # nothing trains while paused
    assert win.grab().save(str(artifacts / "dashboard-training.png"))
    qtbot.mouseClick(toolbar_button(win, "pause"), Qt.LeftButton)  # Resume
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=60_000)
    result = tp.last_result
    assert result is not None and result.status == "completed", tp.error
    assert result.summary["epochs_run"] == 2
    assert tp.progress.text() == "completed · epoch 2/2" and tp.progress.value() == tp.progress.maximum()
    assert tp.series["train_step"].n > steps
    assert len(tp.curves["val"].getData()[0]) == 2                # one point per epoch
    assert tp.results.matrix is not None and tp.results.matrix.shape == (10, 10)
    assert tp.results.table.rowCount() >= 2
    assert wf.insight.tracker.nodes                               # gradient norms arrived
    assert wf.insight.strips                                      # ... and show on the canvas
    assert wf.runs.selected_run() == result.folder
    qtbot.wait(100)
    assert win.grab().save(str(artifacts / "dashboard-done.png"))

    # 5. Export ONNX with one click (asks where once: the project is unsaved)
    out = tmp_path / "model.onnx"
    wf.ask_export_path = lambda: str(out)
    qtbot.mouseClick(toolbar_button(win, "export_onnx"), Qt.LeftButton)
    assert wf.exporter.busy()                                     # off the UI thread
    qtbot.waitUntil(lambda: not wf.exporter.busy(), timeout=60_000)
    report = wf.exporter.last_report
    assert report is not None, wf.exporter.last_error
    assert report.passed and out.exists()
    message = win.statusBar().currentMessage()
    assert "verified" in message and "max diff" in message and "batch" in message

    # 6. The file verifies here too: onnxruntime vs the trained PyTorch model on test rows
    from workbench.train.checkpoint import load_run
    run = load_run(result.folder, "best")
    x = loaded.prepared.test.x[:64]
    expected = run.model.module(x).detach().numpy()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4
