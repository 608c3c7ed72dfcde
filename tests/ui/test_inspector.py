"""The inspector edits parameters through undoable commands and refuses invalid values."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QSpinBox

from .conftest import node_point


def select(win, qtbot, title):
    nid = win.graph.by_title(title).id
    win.reveal_node(nid)
    qtbot.mouseClick(win.view.viewport(), Qt.LeftButton, pos=node_point(win, nid))
    assert win.inspector.node_ids == [nid]
    return nid


def test_edit_parameter_updates_shapes(make_window, qtbot):
    win = make_window("mlp-classifier")
    nid = select(win, qtbot, "fc1")
    spin = win.inspector.fields["out_features"]
    assert isinstance(spin, QSpinBox) and spin.value() == 64
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "32")
    qtbot.keyClick(spin, Qt.Key_Return)
    assert win.graph.nodes[nid].params["out_features"] == 32
    assert win.document.undo_stack.count() == 1
    qtbot.waitUntil(lambda: "(batch, 32)" in win.scene.nodes[nid].out_text, timeout=2000)
    relu = win.graph.by_title("relu1").id
    assert win.scene.nodes[relu].out_text == "(batch, 32)"
    assert "(batch, 32)" in win.inspector.shapes.text()
    assert "160" in win.inspector.shapes.text()  # 4*32 + 32 parameters
    # undo puts the value back into the form too
    win.document.undo_stack.undo()
    qtbot.waitUntil(lambda: spin.value() == 64, timeout=2000)


def test_invalid_values_are_refused_with_a_message(make_window, qtbot):
    win = make_window("mlp-classifier")
    nid = select(win, qtbot, "input")
    shape = win.inspector.fields["shape"]
    assert isinstance(shape, QLineEdit)
    shape.setFocus()
    shape.selectAll()
    qtbot.keyClicks(shape, "4,-3")
    qtbot.keyClick(shape, Qt.Key_Return)
    assert win.graph.nodes[nid].params["shape"] == "4"
    assert win.document.undo_stack.count() == 0
    assert not win.inspector.error.isHidden()
    assert "positive" in win.inspector.error.text()
    qtbot.waitUntil(lambda: shape.text() == "4", timeout=2000)
    # a duplicate title is refused too
    title = win.inspector.fields["__title__"]
    title.setFocus()
    title.selectAll()
    qtbot.keyClicks(title, "fc1")
    qtbot.keyClick(title, Qt.Key_Return)
    assert win.graph.nodes[nid].title == "input"
    assert "already titled" in win.inspector.error.text()
    # a good value goes through
    shape.setFocus()
    shape.selectAll()
    qtbot.keyClicks(shape, "6")
    qtbot.keyClick(shape, Qt.Key_Return)
    assert win.graph.nodes[nid].params["shape"] == "6"
    assert win.inspector.error.isHidden()


def test_multi_selection_edits_common_parameters_in_one_step(make_window, qtbot):
    win = make_window("mlp-classifier")
    ids = [win.graph.by_title(t).id for t in ("fc1", "fc2")]
    win.scene.select_nodes(ids)
    assert sorted(win.inspector.node_ids) == sorted(ids)
    assert "out_features" in win.inspector.fields and "__title__" not in win.inspector.fields
    win.inspector.fields["bias"].click()
    assert all(win.graph.nodes[i].params["bias"] is False for i in ids)
    assert win.document.undo_stack.count() == 1
    win.document.undo_stack.undo()
    assert all(win.graph.nodes[i].params["bias"] is True for i in ids)


def test_wheel_over_an_unfocused_field_leaves_the_value_alone(make_window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    win = make_window("mlp-classifier")
    nid = select(win, qtbot, "fc1")
    spin = win.inspector.fields["out_features"]
    assert not spin.hasFocus() and spin.focusPolicy() == Qt.StrongFocus

    def notch(widget):
        QApplication.sendEvent(widget, QWheelEvent(
            QPointF(widget.rect().center()), QPointF(widget.mapToGlobal(widget.rect().center())),
            QPoint(), QPoint(0, 120), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False))

    notch(spin)
    assert spin.value() == 64 and win.graph.nodes[nid].params["out_features"] == 64
    assert win.document.undo_stack.count() == 0
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    notch(spin)                                           # focused: the wheel edits, one step
    assert win.graph.nodes[nid].params["out_features"] == 65
    assert win.document.undo_stack.count() == 1
