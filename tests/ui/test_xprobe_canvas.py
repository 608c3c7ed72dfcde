"""What a reviewer found driving the window with a real mouse: a node spliced between two close
nodes must not hide them, and the toolbar must not shift under the cursor after each edit."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QToolButton

from workbench.core.graph import Edge
from workbench.ui.editor import commands

from .conftest import drag, port_point


def add(win, type_name, x, y, **params):
    cmd = commands.AddNode(win.graph, type_name, (x, y), params or None)
    win.document.push(cmd)
    return cmd.node.id


def drop(win, type_name, scene_point):
    vp = win.view.viewport()
    mime = win.palette.tree.mimeData([win.palette.items()[type_name]])
    at = win.view.mapFromScene(scene_point)
    QApplication.sendEvent(vp, QDragEnterEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDropEvent(QPointF(at), Qt.CopyAction, mime, Qt.LeftButton,
                                          Qt.NoModifier))


def test_a_node_spliced_between_close_nodes_lands_in_free_space(window, qtbot):
    # the example's spacing: 60 px between one node's right edge and the next one's left edge
    a = add(window, "Input", 0, 0, shape="8")
    lin = add(window, "Linear", 240, 0)
    drag(window.view.viewport(), port_point(window, a, "out", True),
         port_point(window, lin, "in", False))
    stack = window.document.undo_stack
    count, before = stack.count(), window.graph.to_dict()
    mid = window.scene.edges[Edge(a, "out", lin, "in")]._path.pointAtPercent(0.5)
    drop(window, "ReLU", mid)
    (relu,) = [n.id for n in window.graph.nodes.values() if n.type == "ReLU"]
    assert sorted(window.graph.edges, key=str) == sorted(
        [Edge(a, "out", relu, "in"), Edge(relu, "out", lin, "in")], key=str)
    rect = window.scene.nodes[relu].sceneBoundingRect()
    for other in (a, lin):
        assert not rect.intersects(window.scene.nodes[other].sceneBoundingRect()), other
    assert stack.count() == count + 1 and stack.text(count) == "Insert ReLU"
    stack.undo()
    assert window.graph.to_dict() == before


def test_a_splice_with_room_keeps_the_connection_straight(window, qtbot):
    a = add(window, "Input", 0, 0, shape="8")
    lin = add(window, "Linear", 700, 0)
    drag(window.view.viewport(), port_point(window, a, "out", True),
         port_point(window, lin, "in", False))
    mid = window.scene.edges[Edge(a, "out", lin, "in")]._path.pointAtPercent(0.5)
    drop(window, "ReLU", mid)
    (relu,) = [n.id for n in window.graph.nodes.values() if n.type == "ReLU"]
    item = window.scene.nodes[relu]
    assert abs(item.port("in", False).scenePos().y() - mid.y()) < 1


def test_the_toolbar_undo_button_keeps_its_width_after_an_edit(window, qtbot):
    def button(key):
        return window.toolbar.widgetForAction(window.actions[key])
    assert isinstance(button("undo"), QToolButton)
    delete_x = button("delete").x()
    add(window, "Linear", 0, 0)
    window.toolbar.layout().activate()
    assert button("undo").text() == "Undo"
    assert window.actions["undo"].text() == "&Undo Add Linear"   # the Edit menu still says what
    assert "Add Linear" in button("undo").toolTip()
    assert button("delete").x() == delete_x                     # nothing moved under the mouse


def test_the_learning_rate_chart_reaches_the_last_epoch_when_step_events_stop_early(window):
    """A 1-second run delivers its few step events in its first epochs; the epoch events that
    follow must carry the learning-rate curve to the run's end."""
    from workbench.train.events import Event
    tp = window.workflow.training
    tp._on_event(Event("start", epochs=30, steps=300, message="starting"))
    tp._on_event(Event("step", epoch=1, epochs=30, step=5, steps=300, train_loss=1.0, lr=0.01))
    for epoch in range(1, 31):
        tp._on_event(Event("epoch", epoch=epoch, epochs=30, step=epoch * 10, steps=300,
                           train_loss=1.0, val_loss=1.0, metrics={"val": {}}, lr=0.01))
    x, y = tp.series["lr"].data()
    assert x.max() == 30 and list(y) == [0.01] * len(y)
    assert list(x) == sorted(x)                           # one curve, left to right


def test_the_progress_bar_shows_its_whole_text(window):
    tp = window.workflow.training
    tp.progress.setFormat("epoch 123/1000 · 15% of the run")
    text = tp.progress.format()
    assert tp.progress.minimumWidth() >= tp.progress.fontMetrics().horizontalAdvance(text) + 16


def test_the_data_panel_shows_enough_column_rows_to_set_roles_at_1400x900(
        make_window, qtbot, tmp_path):
    """The role table is what a user edits; at 1400×900 it got two rows under a ten-row
    preview of the raw file."""
    path = tmp_path / "penguins.csv"
    rows = ["species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year"]
    for i in range(60):
        rows.append(f"{['Adelie', 'Gentoo', 'Chinstrap'][i % 3]},Dream,{38 + i % 9}.1,"
                    f"{15 + i % 4}.2,{190 + i % 20},{3500 + 10 * i},{['male', 'female'][i % 2]},"
                    f"{2007 + i % 3}")
    path.write_text("\n".join(rows) + "\n")
    win = make_window(size=(1400, 900))
    wf = win.workflow
    wf.open_data(str(path))
    qtbot.waitUntil(lambda: not wf.data.busy(), timeout=30_000)
    wf.show_panel("data")
    panel = wf.data
    qtbot.waitUntil(lambda: panel.columns.isVisible())
    QApplication.processEvents()
    # rows the user can see without scrolling the panel: the table's part inside the dock
    visible = panel.columns.viewport().visibleRegion().boundingRect().height()
    shown = visible / panel.columns.rowHeight(0)
    assert shown >= 4.5, shown
