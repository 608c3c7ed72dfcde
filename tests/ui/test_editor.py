"""The canvas driven with real mouse and keyboard events."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from workbench.core.graph import Edge
from workbench.ui.editor import commands
from workbench.ui.editor.view import NODE_MIME

from .conftest import dclick, drag, node_point, port_point


def add(win, type_name, x, y, **params):
    cmd = commands.AddNode(win.graph, type_name, (x, y), params or None)
    win.document.push(cmd)
    return cmd.node.id


def drop_mime(widget, mime: QMimeData, pos: QPoint) -> None:
    enter = QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)


def test_drag_palette_entry_onto_canvas(window, qtbot):
    items = window.palette.items()
    mime = window.palette.tree.mimeData([items["Linear"]])  # what a drag from the palette carries
    assert bytes(mime.data(NODE_MIME)) == b"Linear"
    at = QPoint(400, 300)
    drop_mime(window.view.viewport(), mime, at)
    (node,) = window.graph.nodes.values()
    assert node.type == "Linear"
    item = window.scene.nodes[node.id]
    # dropped where the cursor was: the node's header centre sits under the drop point
    assert (window.view.mapToScene(at) - item.sceneBoundingRect().center()).manhattanLength() < 80
    assert window.document.undo_stack.count() == 1
    assert window.inspector.node_ids == [node.id]  # the new node is selected


def test_double_click_and_enter_add_at_view_centre(window, qtbot):
    tree = window.palette.tree
    item = window.palette.items()["ReLU"]
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    dclick(tree.viewport(), rect.center())
    assert [n.type for n in window.graph.nodes.values()] == ["ReLU"]
    window.palette.search.setFocus()
    qtbot.keyClicks(window.palette.search, "dropout")
    qtbot.keyClick(window.palette.search, Qt.Key_Return)
    assert [n.type for n in window.graph.nodes.values()] == ["ReLU", "Dropout"]
    centre = window.view.centre_scene_pos()
    relu, dropout = (window.scene.nodes[nid].sceneBoundingRect() for nid in window.graph.nodes)
    assert (relu.center() - centre).manhattanLength() < 150
    assert (dropout.center() - centre).manhattanLength() < 300
    assert not relu.intersects(dropout)  # the second lands in free space, not on the first


def test_connect_two_ports_by_dragging(window, qtbot):
    a = add(window, "Input", 0, 0, shape="8")
    b = add(window, "Linear", 300, 0, out_features=3)
    vp = window.view.viewport()
    drag(vp, port_point(window, a, "out", True), port_point(window, b, "in", False))
    assert window.graph.edges == [Edge(a, "out", b, "in")]
    window.document.validate_now()
    assert window.scene.edges[Edge(a, "out", b, "in")].label == "(batch, 8)"
    assert "(batch, 3)" in window.scene.nodes[b].out_text
    # and backwards, from an input to an output
    c = add(window, "ReLU", 600, 0)
    drag(vp, port_point(window, c, "in", False), port_point(window, b, "out", True))
    assert Edge(b, "out", c, "in") in window.graph.edges


def test_invalid_connection_is_refused_with_a_reason(window, qtbot):
    a = add(window, "Linear", 0, 0)
    b = add(window, "Linear", 300, 0)
    loss = add(window, "MSE", 300, 250)
    vp = window.view.viewport()
    drag(vp, port_point(window, a, "out", True), port_point(window, b, "in", False))
    before = window.graph.to_dict()
    count = window.document.undo_stack.count()
    # while dragging b.out, a.in (a cycle) is marked bad and the reason is in the status bar
    from PySide6.QtTest import QTest
    start, end = port_point(window, b, "out", True), port_point(window, a, "in", False)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(vp, (start + end) / 2)
    QTest.mouseMove(vp, end)
    assert window.scene.nodes[a].inputs["in"].state == "bad"
    assert window.scene.nodes[loss].inputs["input"].state == "ok"
    assert "cycle" in window.statusBar().currentMessage()
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, end)
    assert window.graph.to_dict() == before
    assert window.document.undo_stack.count() == count
    assert window.statusBar().currentMessage() == (
        "not connected: connecting Linear 'linear1' to Linear 'linear' would make a cycle")
    assert window.scene.nodes[a].inputs["in"].state in (None, "hover")  # highlights cleared
    assert window.scene.nodes[loss].inputs["input"].state is None
    # a loss output cannot feed a tensor input
    drag(vp, port_point(window, loss, "loss", True), port_point(window, a, "in", False))
    assert window.graph.to_dict() == before
    assert window.statusBar().currentMessage() == (
        "not connected: MSE 'loss' cannot feed Linear 'linear': its output 'loss' gives a loss, "
        "input 'in' takes a tensor")


def test_drag_edge_end_off_disconnects_and_onto_another_port_reroutes(window, qtbot):
    a = add(window, "Input", 0, 0)
    b = add(window, "Linear", 300, 0)
    c = add(window, "ReLU", 300, 250)
    vp = window.view.viewport()
    drag(vp, port_point(window, a, "out", True), port_point(window, b, "in", False))
    drag(vp, port_point(window, b, "in", False), port_point(window, c, "in", False))
    assert window.graph.edges == [Edge(a, "out", c, "in")]
    drag(vp, port_point(window, c, "in", False), QPoint(30, 500))
    assert window.graph.edges == []
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert window.graph.edges == [Edge(a, "out", b, "in")]


def test_move_by_mouse_is_one_undo_step_and_delete_key(window, qtbot):
    a = add(window, "Linear", 0, 0)
    b = add(window, "ReLU", 300, 0)
    vp = window.view.viewport()
    qtbot.mouseClick(vp, Qt.LeftButton, pos=node_point(window, a))
    qtbot.mouseClick(vp, Qt.LeftButton, Qt.ControlModifier, pos=node_point(window, b))
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b])
    count = window.document.undo_stack.count()
    drag(vp, node_point(window, a), node_point(window, a) + QPoint(100, 60), steps=10)
    assert window.document.undo_stack.count() == count + 1
    assert window.graph.nodes[a].pos == (100.0, 60.0)
    assert window.graph.nodes[b].pos == (400.0, 60.0)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key_Delete)
    assert window.graph.nodes == {}
    window.document.undo_stack.undo()
    assert set(window.graph.nodes) == {a, b}


def test_rubber_band_selects_and_wheel_zooms_around_cursor(window, qtbot):
    a = add(window, "Linear", 0, 0)
    b = add(window, "ReLU", 300, 0)
    add(window, "ReLU", 0, 400)
    vp = window.view.viewport()
    tl = window.view.mapFromScene(QPointF(-30, -30))
    br = window.view.mapFromScene(QPointF(520, 150))
    drag(vp, tl, br)
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b])
    from PySide6.QtGui import QWheelEvent
    at = QPoint(300, 200)
    before = window.view.mapToScene(at)
    ev = QWheelEvent(QPointF(at), QPointF(vp.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 240),
                     Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)
    assert window.view.zoom > 1.3
    assert (window.view.mapToScene(at) - before).manhattanLength() < 3
    # middle-drag pans
    centre = window.view.centre_scene_pos()
    drag(vp, QPoint(300, 300), QPoint(200, 250), button=Qt.MiddleButton)
    moved = window.view.centre_scene_pos() - centre
    assert moved.x() > 40 and moved.y() > 20
