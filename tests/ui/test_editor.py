"""The canvas driven with real mouse and keyboard events."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
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


# -- nodes added after data is loaded fit it (issue 13, defect 3) ---------------------------

def ten_feature_table(path):
    """60 rows, 10 numeric features, 3 classes in a 'species' column."""
    import numpy as np
    rng = np.random.default_rng(0)
    rows = ["," .join([f"f{i}" for i in range(10)] + ["species"])]
    for r in range(60):
        rows.append(",".join([f"{v:.3f}" for v in rng.normal(size=10)] + [("a", "b", "c")[r % 3]]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def load_data(win, qtbot, path):
    win.workflow.open_data(str(path))
    qtbot.waitUntil(lambda: not win.workflow.data.busy(), timeout=30_000)
    assert win.workflow.data.prepared_for_project() is not None


def connect(win, src, src_port, dst, dst_port):
    win.document.push(commands.Connect(win.graph, Edge(src, src_port, dst, dst_port)))


def test_nodes_added_after_data_is_loaded_show_and_train_its_shapes(window, qtbot, tmp_path):
    from workbench.core import analyse
    from workbench.train.trainer import Trainer

    load_data(window, qtbot, ten_feature_table(tmp_path / "ten.csv"))
    stack = window.document.undo_stack
    assert stack.count() == 1 and not window.graph.nodes           # File › New, then the data
    add_at = window.add_node_at                                      # what a palette drop calls
    inp = add_at("Input", QPointF(0, 0))
    assert window.graph.nodes[inp].params["shape"] == "10"          # fitted as it lands
    lin = add_at("Linear", QPointF(300, 0))
    out = add_at("Output", QPointF(600, 0))
    connect(window, inp, "out", lin, "in")
    before_head = window.graph.to_dict()
    connect(window, lin, "out", out, "in")
    assert window.graph.nodes[lin].params["out_features"] == 3      # the head: one per class
    window.document.validate_now()
    assert window.scene.nodes[inp].out_text == "(batch, 10)"
    assert window.scene.nodes[lin].out_text == "(batch, 3)"
    # one undo takes the edge and its fitting; redo brings both back
    stack.undo()
    assert window.graph.to_dict() == before_head
    stack.redo()
    assert window.graph.nodes[lin].params["out_features"] == 3
    before_target = window.graph.to_dict()
    tgt = add_at("Target", QPointF(600, 250))
    assert window.graph.nodes[tgt].params["num_classes"] == 3
    stack.undo()
    assert window.graph.to_dict() == before_target                  # node and fitting, exactly
    stack.redo()
    loss = add_at("CrossEntropy", QPointF(900, 100))
    opt = add_at("Adam", QPointF(1200, 100))
    connect(window, out, "out", loss, "input")
    connect(window, tgt, "out", loss, "target")
    connect(window, loss, "loss", opt, "loss")
    analysis = window.document.validate_now()
    assert analysis.valid, [p.message for p in analysis.problems]
    assert analysis.total_params == 10 * 3 + 3 == analyse(window.graph).total_params
    # what trains is what is shown: the trainer builds the same model, and fits nothing more
    data = window.workflow.data.prepared_for_project()
    trainer = Trainer(window.document.project, data, epochs=1, save=False)
    result = trainer.run()
    assert result.status == "completed", result.message
    assert sum(p.numel() for p in result.model.module.parameters()) == analysis.total_params
    assert trainer.project.graph.to_dict() == window.graph.to_dict()


def test_a_fitted_value_edited_afterwards_is_a_problem_and_training_refuses(window, qtbot, tmp_path):
    load_data(window, qtbot, ten_feature_table(tmp_path / "ten.csv"))
    add_at = window.add_node_at
    inp, lin, out = (add_at(t, QPointF(300 * i, 0)) for i, t in enumerate(("Input", "Linear", "Output")))
    tgt, loss, opt = (add_at(t, QPointF(300 * i, 300)) for i, t in
                      enumerate(("Target", "CrossEntropy", "Adam")))
    for edge in ((inp, "out", lin, "in"), (lin, "out", out, "in"), (out, "out", loss, "input"),
                 (tgt, "out", loss, "target"), (loss, "loss", opt, "loss")):
        connect(window, *edge)
    assert window.document.validate_now().valid
    window.document.push(commands.SetParams(window.graph, [inp], "shape", "4"))  # the user's edit
    assert window.graph.nodes[inp].params["shape"] == "4"                   # kept, not undone
    analysis = window.document.validate_now()
    assert [p.message for p in analysis.errors] == [
        "Input 'input': shape is 4 but the loaded data needs 10: set it to 10 (or load other data)"]
    assert analysis.errors[0].node_id == inp
    badge = window.scene.nodes[inp].badge                                    # on the node itself
    assert badge.isVisible() and "shape is 4 but the loaded data needs 10" in badge.toolTip()
    window.workflow.training.train()
    assert window.workflow.training.state == "idle"                          # refused
    assert "see the Problems panel" in window.workflow.training.error_label.text()


# -- gestures: replace an occupied input, insert onto an edge; commands that cannot fail -----

def test_dropping_onto_an_occupied_input_replaces_its_edge_in_one_step(window, qtbot):
    from PySide6.QtTest import QTest
    a = add(window, "Input", 0, 0, shape="8")
    b = add(window, "Input", 0, 250, shape="8", name="x2")
    lin = add(window, "Linear", 400, 100)
    vp = window.view.viewport()
    drag(vp, port_point(window, a, "out", True), port_point(window, lin, "in", False))
    stack = window.document.undo_stack
    count, before = stack.count(), window.graph.to_dict()
    start, end = port_point(window, b, "out", True), port_point(window, lin, "in", False)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(vp, (start + end) / 2)
    QTest.mouseMove(vp, end)
    assert window.scene.nodes[lin].inputs["in"].state == "ok"       # offered, not refused
    assert window.statusBar().currentMessage() == "release to replace 'input' → 'in' of 'linear'"
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, end)
    assert window.graph.edges == [Edge(b, "out", lin, "in")]
    assert stack.count() == count + 1 and stack.text(count) == "Reconnect"
    assert window.statusBar().currentMessage() == (
        "connected 'input1' → 'linear', replacing 'input'")
    stack.undo()
    assert window.graph.to_dict() == before


def test_a_palette_node_dropped_on_an_edge_is_spliced_in_one_step(window, qtbot):
    a = add(window, "Input", 0, 0, shape="8")
    lin = add(window, "Linear", 700, 0)
    vp = window.view.viewport()
    drag(vp, port_point(window, a, "out", True), port_point(window, lin, "in", False))
    stack = window.document.undo_stack
    count, before = stack.count(), window.graph.to_dict()
    mid = window.scene.edges[Edge(a, "out", lin, "in")]._path.pointAtPercent(0.5)
    mime = window.palette.tree.mimeData([window.palette.items()["ReLU"]])
    at = window.view.mapFromScene(mid)
    QApplication.sendEvent(vp, QDragEnterEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDragMoveEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                              Qt.NoModifier))          # hovering: what a drop does
    assert window.statusBar().currentMessage() == "drop to insert it between 'input' and 'linear'"
    drop_mime(vp, mime, at)
    (relu,) = [n.id for n in window.graph.nodes.values() if n.type == "ReLU"]
    assert sorted(window.graph.edges, key=str) == sorted(
        [Edge(a, "out", relu, "in"), Edge(relu, "out", lin, "in")], key=str)
    assert stack.count() == count + 1 and stack.text(count) == "Insert ReLU"
    assert window.statusBar().currentMessage() == "inserted ReLU 'relu' between 'input' and 'linear'"
    stack.undo()
    assert window.graph.to_dict() == before
    # away from any edge, a drop just adds
    drop_mime(vp, mime, window.view.mapFromScene(QPointF(350, 400)))
    assert len(window.graph.edges) == 1 and stack.count() == count + 1


def test_an_unknown_node_type_is_refused_before_anything_is_pushed(window, qtbot):
    import pytest
    from workbench.core.graph import GraphError
    stack = window.document.undo_stack
    with pytest.raises(GraphError, match="unknown node type 'NoSuchLayer'"):
        commands.AddNode(window.graph, "NoSuchLayer", (0, 0))
    assert window.add_node_at("NoSuchLayer", QPointF(0, 0)) is None  # a drop of that type
    assert stack.count() == 0 and not window.graph.nodes
    assert window.statusBar().currentMessage() == (
        "unknown node type 'NoSuchLayer' (is the plugin that provides it installed?)")
    stack.undo()                                                       # nothing to undo, no error
    # every command checks when made: a bad value, a missing edge, a taken title
    lin = add(window, "Linear", 0, 0)
    relu = add(window, "ReLU", 300, 0)
    with pytest.raises(GraphError, match="must be"):
        commands.SetParams(window.graph, [lin], "out_features", "ten")
    with pytest.raises(GraphError, match="does not exist"):
        commands.Disconnect(window.graph, Edge(lin, "out", relu, "in"))
    with pytest.raises(GraphError, match="already titled 'linear'"):
        commands.SetTitle(window.graph, relu, "linear")
    assert stack.count() == 2


def test_each_problem_is_listed_once_in_plain_words(window, qtbot):
    add(window, "CrossEntropy", 0, 0)
    add(window, "Adam", 300, 0)
    window.validate()
    panel = window.problems
    rows = [(panel.topLevelItem(i).text(0), panel.topLevelItem(i).text(1))
            for i in range(panel.topLevelItemCount())]
    assert len(rows) == len(set(rows)), rows
    assert ("loss", "CrossEntropy 'loss': inputs 'input' and 'target' are not connected") in rows
    assert [r for r in rows if r[0] == "optimizer"] == [
        ("optimizer", "Adam 'optimizer': input 'loss' is not connected")]
