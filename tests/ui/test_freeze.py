"""Freezing for fine-tuning in the app: the inspector's Trainable box, "Freeze up to here",
"Unfreeze all", one undo step each, the frozen mark on the canvas and in the file."""
from __future__ import annotations

import json

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from workbench.ui.editor.items import WIDTH


def ids(win, *titles):
    return [win.graph.by_title(t).id for t in titles]


def frozen(win):
    return sorted(n.title for n in win.graph.nodes.values() if not n.trainable)


def menu_action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


def test_trainable_box_freezes_a_selection_in_one_undo_step(make_window, qtbot):
    win = make_window("mlp-classifier")
    before = win.graph.to_dict()
    win.scene.select_nodes(ids(win, "fc1", "fc2"))
    box = win.inspector.fields["__trainable__"]
    assert box.isChecked()
    box.click()
    assert frozen(win) == ["fc1", "fc2"]
    qtbot.waitUntil(lambda: "of them frozen" in win.inspector.shapes.text(), timeout=2000)
    assert win.inspector.shapes.text() == ("<b>Parameters</b>: 4,480 in the selection, 4,480 "
                                           "of them frozen")
    stack = win.document.undo_stack
    assert stack.count() == 1 and stack.text(0) == "Freeze 2 nodes"
    stack.undo()
    assert win.graph.to_dict() == before
    qtbot.waitUntil(lambda: box.isChecked(), timeout=2000)   # the form follows the graph
    stack.redo()
    assert frozen(win) == ["fc1", "fc2"]
    # one frozen, one not: the box says they differ; ticking it unfreezes only the frozen one
    stack.undo()
    win.graph.set_trainable(ids(win, "fc1")[0], False)
    win.scene.select_nodes(ids(win, "fc1", "head"))
    box = win.inspector.fields["__trainable__"]
    assert not box.isChecked()
    assert win.inspector.form.labelForField(box).text() == "Trainable ≠"
    box.click()
    assert frozen(win) == [] and stack.text(stack.index() - 1) == "Unfreeze 'fc1'"


def test_no_trainable_box_for_nodes_without_weights(make_window):
    win = make_window("mlp-classifier")
    for title in ("relu1", "input", "loss"):
        win.scene.select_nodes(ids(win, title))
        assert "__trainable__" not in win.inspector.fields, title
    win.scene.select_nodes(ids(win, "fc1", "relu1"))   # a mixed selection: no box either
    assert "__trainable__" not in win.inspector.fields


def test_freeze_up_to_here_and_unfreeze_all_are_one_step_each(make_window):
    win = make_window("cnn-classifier")
    before = win.graph.to_dict()
    fc = win.scene.nodes[ids(win, "fc")[0]]
    menu = win.build_context_menu(fc.scenePos(), fc)
    assert not menu_action(menu, "Unfreeze all").isEnabled()   # nothing frozen yet
    menu_action(menu, "Freeze up to here").trigger()
    assert frozen(win) == ["conv1", "conv2", "fc"]              # not the head, no ReLU/pool
    stack = win.document.undo_stack
    assert stack.count() == 1 and stack.text(0) == "Freeze up to 'fc' (3 nodes)"
    assert "froze 3 nodes up to 'fc'" in win.statusBar().currentMessage()
    frozen_doc = win.graph.to_dict()
    stack.undo()
    assert win.graph.to_dict() == before
    stack.redo()
    menu = win.build_context_menu(fc.scenePos(), None)          # the empty canvas's menu
    menu_action(menu, "Unfreeze all").trigger()
    assert frozen(win) == [] and stack.count() == 2
    stack.undo()
    assert win.graph.to_dict() == frozen_doc
    # on a node with nothing trainable upstream (the input), it says so and pushes nothing
    win.freeze_up_to(ids(win, "input")[0])
    assert stack.count() == 2
    assert "nothing to freeze" in win.statusBar().currentMessage()


def render(item) -> QImage:
    image = QImage(int(WIDTH) + 20, int(item.height) + 20, QImage.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    p = QPainter(image)
    rect = item.sceneBoundingRect()
    item.scene().render(p, QRectF(0, 0, image.width(), image.height()),
                        QRectF(rect.left(), rect.top(), image.width(), image.height()))
    p.end()
    return image


def test_frozen_node_is_marked_and_saved_as_not_trainable(make_window, tmp_path):
    win = make_window("mlp-classifier")
    nid = ids(win, "fc1")[0]
    item = win.scene.nodes[nid]
    plain = render(item)
    win.document.push(__import__("workbench.ui.editor.commands", fromlist=["x"])
                      .SetTrainable(win.graph, [nid], False))
    assert item.frozen and "frozen: training leaves its weights" in item.toolTip()
    marked = render(item)
    marked.save(str(tmp_path / "frozen.png"))
    # the header is muted (greyer than the category colour) ...
    x0 = -item.boundingRect().left()   # the image's x of the node's left edge
    at = (int(x0 + 40), 36)
    a, b = QColor(plain.pixel(*at)), QColor(marked.pixel(*at))
    assert b.saturation() < a.saturation() - 40, (a.name(), b.name())
    # ... and carries a white snowflake where the plain header has none
    def white(img):
        cx, cy = int(x0 + WIDTH - 28), 4 + 12
        return sum(QColor(img.pixel(x, y)).lightness() > 235
                   for x in range(cx - 8, cx + 9) for y in range(cy - 8, cy + 9))
    assert white(plain) == 0 and white(marked) > 15
    win.save_as(tmp_path / "frozen.wbproj")
    doc = json.loads((tmp_path / "frozen.wbproj").read_text())
    nodes = {n["title"]: n for n in doc["graph"]["nodes"]}
    assert nodes["fc1"]["trainable"] is False
    assert all("trainable" not in n for t, n in nodes.items() if t != "fc1")


def test_trainable_box_appears_once_the_weights_are_known(window, qtbot):
    from PySide6.QtCore import QPointF

    from workbench.core.graph import Edge
    from workbench.ui.editor import commands
    win = window
    x = win.scene.add_node("Input", QPointF(0, 0))
    fc = win.scene.add_node("Linear", QPointF(400, 0))
    win.scene.select_nodes([fc])
    assert "__trainable__" not in win.inspector.fields   # unconnected: no weights counted yet
    port = win.graph.nodes[fc].spec.inputs[0].name
    win.document.push(commands.Connect(win.graph, Edge(x, "out", fc, port)))
    qtbot.waitUntil(lambda: "__trainable__" in win.inspector.fields, timeout=3000)
    assert win.inspector.fields["__trainable__"].isChecked()
