"""The Data panel: loading off the UI thread, bad files, the lazy preview, column edits as
undoable steps that re-fit the graph, cancel, and dropping a data file onto the window."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QTableView

from tests.conftest import DATA
from workbench.ui.panels.frame_model import FrameModel

IRIS = DATA / "iris.csv"


def load(qtbot, win, path):
    wf = win.workflow
    wf.open_data(str(path))
    qtbot.waitUntil(lambda: not wf.data.busy(), timeout=30_000)
    return wf.data


def input_node(win):
    return next(n for n in win.graph.nodes.values() if n.type == "Input")


def test_bad_file_shows_one_line_in_the_panel(make_window, qtbot, tmp_path):
    win = make_window("mlp-classifier")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"PK\x03\x04 not really a table")
    before = dict(win.document.project.data)
    panel = load(qtbot, win, bad)
    text = panel.error_label.text()
    assert panel.error_label.isVisible() and "bad.csv" in text
    assert "\n" not in text and "Traceback" not in text
    assert win.document.project.data == before and win.document.undo_stack.count() == 0


def test_column_role_edit_is_one_undoable_step_that_refits_the_graph(make_window, qtbot):
    win = make_window("mlp-classifier")
    panel = load(qtbot, win, IRIS)
    stack = win.document.undo_stack
    assert stack.count() == 1 and input_node(win).params["shape"] == "4"
    assert panel.model.rowCount() == 150
    assert panel.columns.rowCount() == 5
    role_box = panel.columns.cellWidget(0, 2)                     # sepal_length · role
    assert role_box.currentText() == "feature"
    role_box.setCurrentText("ignore")                             # the user's pick in the table
    qtbot.waitUntil(lambda: not panel.busy() and stack.count() == 2, timeout=30_000)
    assert win.document.project.data["roles"] == {"sepal_length": "ignore"}
    assert input_node(win).params["shape"] == "3"
    assert "ignore" in panel.model.headerData(0, Qt.Horizontal)
    stack.undo()
    assert input_node(win).params["shape"] == "4"
    assert win.document.project.data["roles"] == {}
    qtbot.waitUntil(lambda: not panel.busy(), timeout=30_000)     # the panel follows the undo
    assert panel.columns.cellWidget(0, 2).currentText() == "feature"
    stack.redo()
    assert input_node(win).params["shape"] == "3"


def test_options_change_the_split(make_window, qtbot):
    win = make_window("mlp-classifier")
    panel = load(qtbot, win, IRIS)
    panel.opt["split.val"].setValue(0.3)
    qtbot.waitUntil(lambda: win.document.project.data["split"]["val"] == 0.3, timeout=30_000)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=30_000)
    assert len(panel.loaded.prepared.val) == 45


def test_cancel_leaves_the_project_alone(make_window, qtbot):
    win = make_window("mlp-classifier")
    panel = win.workflow.data
    panel.open_file(str(IRIS))
    assert panel.busy() and panel.cancel_button.isVisible()
    qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert not panel.busy() and not panel.progress.isVisible()
    qtbot.wait(1500)                                              # the worker's late result is ignored
    assert win.document.project.data == {} and panel.loaded is None


def test_drop_a_data_file_onto_the_canvas(make_window, qtbot):
    win = make_window("mlp-classifier")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(IRIS))])
    view = win.view.viewport()
    drop = QDropEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.view.dropEvent(drop)
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None, timeout=30_000)
    assert win.document.project.data["path"].endswith("iris.csv")
    assert view is not None


def test_preview_of_a_million_rows_is_lazy(app, qtbot):
    rows = 1_000_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=rows).astype("float32"),
                       "b": rng.integers(0, 100, rows), "c": np.where(rng.random(rows) < .5, "x", "y")})
    df.loc[5, "a"] = np.nan
    model = FrameModel()
    asked = []
    original = model.data
    model.data = lambda index, role=Qt.DisplayRole: (asked.append(index.row()), original(index, role))[1]
    view = QTableView()
    qtbot.addWidget(view)
    view.verticalHeader().setDefaultSectionSize(22)
    view.resize(600, 400)
    view.show()
    t0 = time.perf_counter()
    model.set_frame(df)
    view.setModel(model)
    view.repaint()
    first = time.perf_counter() - t0
    assert model.rowCount() == rows and model.data(model.index(5, 0)) == "—"
    t0 = time.perf_counter()
    for frac in (0.25, 0.5, 0.75, 1.0):
        view.verticalScrollBar().setValue(int(view.verticalScrollBar().maximum() * frac))
        view.repaint()
    scroll = (time.perf_counter() - t0) / 4
    assert model.data(model.index(rows - 1, 1)) == str(df["b"].iloc[-1])
    assert len(set(asked)) < 400                                   # only visible rows were read
    assert first < 2.0 and scroll < 0.25, (first, scroll)


def test_class_balance_shows_the_most_frequent_of_many_classes(make_window, qtbot, tmp_path):
    win = make_window("mlp-classifier")
    rng = np.random.default_rng(0)
    kinds = [f"k{i:03d}" for i in range(120)]
    weights = np.linspace(1, 3, len(kinds))
    rows = rng.choice(kinds, size=3000, p=weights / weights.sum())
    p = tmp_path / "many.csv"
    pd.DataFrame({"x": rng.normal(size=3000), "kind": rows}).to_csv(p, index=False)
    panel = load(qtbot, win, p)
    plot = panel.balance.getPlotItem()
    assert plot.titleLabel.text.startswith("Class balance · top 50 of 120 classes")
    counts = pd.Series(rows).value_counts()
    widths = panel.bars.opts["width"]
    assert len(widths) == 50 and sorted(widths, reverse=True) == list(widths)
    assert list(widths) == counts.iloc[:50].tolist()


def test_wheel_over_an_unfocused_role_combo_scrolls_the_table_and_changes_nothing(
        make_window, qtbot, tmp_path):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    wide = tmp_path / "wide.csv"
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(30, 40)), columns=[f"m{i}" for i in range(40)])
    frame["label"] = ["x", "y", "z"] * 10
    frame.to_csv(wide, index=False)
    win = make_window("mlp-classifier")
    panel = load(qtbot, win, wide)
    win.workflow.show_panel("data")
    qtbot.waitUntil(lambda: panel.columns.isVisible())
    stack = win.document.undo_stack
    count, roles = stack.count(), dict(win.document.project.data["roles"])
    bar = panel.columns.verticalScrollBar()
    assert bar.maximum() > 0                                    # the table has room to scroll
    box = panel.columns.cellWidget(2, 2)                        # m2 · role, on screen
    assert box.isVisible() and not box.hasFocus() and box.currentText() == "feature"
    assert box.focusPolicy() == Qt.StrongFocus
    for _ in range(5):                                          # five notches down, as filed
        centre = QPointF(box.rect().center())
        wheel = QWheelEvent(centre, QPointF(box.mapToGlobal(box.rect().center())), QPoint(),
                            QPoint(0, -120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
        QApplication.sendEvent(box, wheel)
    assert bar.value() > 0                                       # the table scrolled
    assert box.currentText() == "feature"                        # the role did not change
    assert not panel.busy() and stack.count() == count           # no reload, no undo step
    assert win.document.project.data["roles"] == roles
    # focused (clicked), the wheel is the combo's again
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    QApplication.sendEvent(box, QWheelEvent(
        QPointF(box.rect().center()), QPointF(box.mapToGlobal(box.rect().center())), QPoint(),
        QPoint(0, -120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False))
    assert box.currentText() != "feature"
