"""The training dashboard beyond the journey: stop keeps the checkpoint, errors are shown,
settings are undoable, runs overlay, the Export dialog, gradient insight, clean shutdown."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.conftest import DATA

IRIS = DATA / "iris.csv"


@pytest.fixture
def iris_window(make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    win = make_window("mlp-classifier", size=(1400, 900))
    win.workflow.open_data(str(IRIS))
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None, timeout=30_000)
    return win


def train(qtbot, win, epochs: int, wait: bool = True):
    tp = win.workflow.training
    tp.epochs.setValue(epochs)
    win.actions["train"].trigger()
    assert tp.state == "running", tp.error
    if wait:
        qtbot.waitUntil(lambda: tp.state == "idle", timeout=60_000)
    return tp


def test_settings_are_saved_in_the_project_and_undoable(iris_window):
    win, tp = iris_window, iris_window.workflow.training
    tp.epochs.setValue(7)
    tp.epochs.setValue(8)                                   # successive clicks merge into one step
    tp.patience.setValue(3)
    tp.lr.setValue(0.01)
    t = win.document.project.training
    assert t["epochs"] == 8 and t["early_stopping"]["patience"] == 3
    adam = next(n for n in win.graph.nodes.values() if n.type == "Adam")
    assert adam.params["lr"] == pytest.approx(0.01)
    win.document.undo_stack.undo()                          # lr
    win.document.undo_stack.undo()                          # patience
    win.document.undo_stack.undo()                          # epochs 7 → 8 as one step
    assert win.document.project.training["epochs"] != 8 and tp.epochs.value() != 8
    assert tp.patience.value() != 3


def test_stop_keeps_the_last_checkpoint(iris_window, qtbot):
    win = iris_window
    tp = train(qtbot, win, 5000, wait=False)
    qtbot.waitUntil(lambda: tp.series["val"].n >= 3, timeout=30_000)
    qtbot.mouseClick(tp.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=30_000)
    result = tp.last_result
    assert result.status == "stopped" and result.summary["epochs_run"] >= 3
    assert (result.folder / "last.pt").exists() and (result.folder / "best.pt").exists()
    assert win.workflow.runs.selected_run() == result.folder
    assert "stopped" in win.workflow.runs.tree.topLevelItem(0).text(1)
    epochs = result.summary["epochs_run"]
    assert tp.progress.text() == f"stopped · epoch {epochs}/5000"
    assert tp.progress.value() < tp.progress.maximum()


def test_nan_error_is_shown_clearly(make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    rng = np.random.default_rng(0)
    path = tmp_path / "huge.csv"
    path.write_text("a,b,y\n" + "".join(f"{rng.normal()},{rng.normal()},{rng.normal() * 1e25}\n"
                                        for _ in range(200)))
    win = make_window("mlp-regressor")
    win.workflow.open_data(str(path))
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None, timeout=30_000)
    tp = train(qtbot, win, 3)
    assert tp.last_result.status == "failed"
    assert tp.error_label.isVisible() and "NaN" in tp.error_label.text()
    assert "step 1" in tp.error_label.text() and "\n" not in tp.error
    assert win.actions["train"].isEnabled()                 # ready for another try


def test_train_without_data_says_what_to_do(make_window):
    win = make_window("mlp-classifier")
    assert not win.workflow.training.train()
    assert "Data panel" in win.workflow.training.error


def test_runs_overlay_and_export_dialog(iris_window, qtbot, tmp_path):
    win = iris_window
    wf = win.workflow
    first = train(qtbot, win, 4).last_result.folder
    second = train(qtbot, win, 3).last_result.folder
    # the learning-rate chart has a point per epoch even when no step event came (a quick run)
    assert {1.0, 2.0, 3.0} <= set(wf.training.curves["lr"].getData()[0].tolist())
    assert [r for r in (first, second) if r] and wf.runs.tree.topLevelItemCount() == 2
    wf.runs.set_ticked(first)
    assert str(first) in wf.training.overlays
    curve = wf.training.overlays[str(first)][0][1]
    assert len(curve.getData()[0]) == 4                      # its 4 epochs, dashed, on the loss chart
    wf.runs.set_ticked(first, False)
    assert not wf.training.overlays
    # the Export dialog: torch.export of the selected run, verified, with Open Folder enabled
    win.actions["export"].trigger()
    dialog = wf.dialog
    dialog.format.setCurrentIndex(dialog.format.findData("pt2"))
    dialog.path.setText(str(tmp_path / "model.pt2"))
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not wf.exporter.busy(), timeout=60_000)
    assert "verification passed" in dialog.report.toPlainText(), dialog.report.toPlainText()
    assert dialog.open_button.isEnabled() and (tmp_path / "model.pt2").exists()
    dialog.close()


def test_gradient_states():
    from workbench.ui.panels.insight_panel import GradientTracker
    t = GradientTracker()
    for i in range(12):
        t.add({"a": 0.5, "b": 1e-9, "c": 0.3 if i < 11 else 80.0})
    states = t.states()
    assert states == {"a": "ok", "b": "vanishing", "c": "exploding"}
    t.add({"a": float("nan")})
    assert t.states()["a"] == "nan"


def test_closing_during_training_stops_the_thread(iris_window, qtbot):
    win = iris_window
    tp = train(qtbot, win, 100_000, wait=False)
    qtbot.waitUntil(lambda: tp.series["val"].n >= 1, timeout=30_000)
    threads = win.workflow.threads
    assert threads.busy()
    win.workflow.shutdown()                                  # what closeEvent calls: stop, quit, wait
    assert not threads.busy()
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=10_000)


def test_charts_follow_the_theme(make_window):
    from workbench.ui import charts
    win = make_window("mlp-classifier")
    win.actions["dark"].trigger()
    try:
        plot = win.workflow.training.loss_plot
        assert plot.backgroundBrush().color().name() == charts.colours()[0] == "#1f2226"
        title = plot.getPlotItem().titleLabel
        assert title.text == "Loss" and title.opts["color"] == charts.colours()[1]  # recoloured, kept
    finally:
        win.actions["dark"].trigger()


def test_first_save_takes_the_untitled_projects_runs_along(iris_window, qtbot, tmp_path):
    """Runs made while untitled live in the app's data folder; saving the project moves them
    beside it, where the Runs panel then looks, and they still export."""
    win = iris_window
    tp = train(qtbot, win, 2)
    made = tp.last_result.folder
    assert made.parent == tmp_path / "runs" / f"mlp-classifier-{win.document.untitled_id}"
    win.ask_save_path = lambda: str(tmp_path / "mine" / "iris.wbproj")
    assert win.save()
    moved = tmp_path / "mine" / "runs" / made.name
    assert win.workflow.runs.root == tmp_path / "mine" / "runs"
    from workbench.ui.panels.runs_panel import list_runs
    assert [r.folder for r in list_runs(win.workflow.runs.root)] == [moved]
    assert not made.exists() and "; 1 run moved beside it" in win.statusBar().currentMessage()
    from workbench.core import project as project_io
    from workbench.data import DataSettings, prepare
    copy = project_io.load(moved / "project.wbproj")
    assert prepare(DataSettings.from_dict(copy.data), moved).classes == ["setosa", "versicolor", "virginica"]
    from workbench.export.api import export_run
    assert export_run(moved, "onnx", tmp_path / "m.onnx").passed


def test_the_confusion_matrix_labels_every_class(app, qtbot):
    """pyqtgraph skips a tick label wider than its axis is when drawn, and widens the axis only
    later: the widest class name was missing from the matrix drawn at a run's end."""
    from PySide6.QtGui import QPainter, QPixmap
    from workbench.ui.panels.results_view import ResultsView
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    # the run ends while the Training tab is not shown: nothing is painted, so the axis has not
    # widened when the tab is opened (or the panel grabbed) and its first paint is drawn
    view.show_confusion(np.eye(3, dtype=int) * 8, ["setosa", "versicolor", "virginica"])
    app.processEvents()
    axis = view.item.getAxis("left")
    pixmap = QPixmap(10, 10)
    painter = QPainter(pixmap)
    try:
        texts = [spec[2] for spec in axis.generateDrawSpecs(painter)[2]]
    finally:
        painter.end()
    assert sorted(texts) == ["setosa", "versicolor", "virginica"]
