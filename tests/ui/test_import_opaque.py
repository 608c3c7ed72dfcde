"""Opaque nodes in the app: drawn apart (grey, hatched), their op on the node and their reason
in the tooltip, read-only in the inspector with the call hidden, never offered for adding.
Saves the frozen + opaque screenshot (tests/_artifacts/frozen-opaque.png, looked at)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QLineEdit

from workbench.core.project import Project

REASON = "no Workbench node for <b>Softsign</b>"   # markup in a file stays text


def opaque_project() -> Project:
    from workbench.core import opaque
    project = Project(name="imported")
    g = project.graph
    x = g.add_node("Input", "x", {"shape": "4"}, (0, 0))
    fc = g.add_node("Linear", "body_0", {"out_features": 8}, (240, 0))
    op = g.add_node("Opaque", "soft", opaque.torch_params(
        "torch.nn.functional.softsign", [{"input": 0}], {}, {},
        op="torch.nn.functional.softsign", reason=REASON), (480, 0))
    head = g.add_node("Linear", "head", {"out_features": 3}, (720, 0))
    out = g.add_node("Output", "out", None, (960, 0))
    for a, b in ((x, fc), (fc, op), (op, head), (head, out)):
        dst_port = b.spec.inputs[0].name
        g.connect(a.id, "out", b.id, dst_port)
    return project


@pytest.fixture
def win(make_window):
    from workbench.ui.document import Document
    w = make_window()
    w.set_document(Document(opaque_project()))
    return w


def test_opaque_node_is_drawn_apart_with_its_op_and_reason(win, artifacts):
    soft = win.graph.by_title("soft").id
    item = win.scene.nodes[soft]
    assert item.opaque and not win.scene.nodes[win.graph.by_title("head").id].opaque
    assert item.param_summary == "torch.nn.functional.softsign"      # under the title
    tip = item.toolTip()                                   # markup from the file escaped
    assert "opaque: no Workbench node for &lt;b&gt;Softsign&lt;/b&gt;<br>" in tip
    assert "<b>" not in tip
    model_problems = [p.message for p in win.document.analysis.problems if not p.training]
    assert model_problems == []                          # (no loss yet: a model-only import)
    assert win.scene.nodes[soft].out_text == "(batch, 8)"           # its shape ran on meta
    # the body is hatched: a plain node's body is one colour there, the opaque one's is not
    def body_colours(nid):
        it = win.scene.nodes[nid]
        img = QImage(40, 3, QImage.Format_ARGB32)   # under the port labels, over the info line
        p = QPainter(img)
        top_left = it.mapToScene(60, 61)
        win.scene.render(p, QRectF(0, 0, 40, 3), QRectF(top_left.x(), top_left.y(), 40, 3))
        p.end()
        return {img.pixel(x, y) for x in range(40) for y in range(3)}
    assert len(body_colours(win.graph.by_title("head").id)) == 1
    assert len(body_colours(soft)) > 1
    # the screenshot: a frozen layer, then the opaque node
    win.freeze_up_to(win.graph.by_title("body_0").id)
    rect = win.scene.nodes[win.graph.by_title("body_0").id].sceneBoundingRect().united(
        item.sceneBoundingRect()).adjusted(-10, -10, 10, 10)
    img = QImage(int(rect.width()) * 2, int(rect.height()) * 2, QImage.Format_ARGB32)
    img.fill(QColor("#ffffff"))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    win.scene.render(p, QRectF(0, 0, img.width(), img.height()), rect)
    p.end()
    assert img.save(str(artifacts / "frozen-opaque.png"))


def test_inspector_shows_an_opaque_node_read_only_without_its_call(win):
    soft = win.graph.by_title("soft").id
    win.scene.select_nodes([soft])
    fields = win.inspector.fields
    assert "call" not in fields
    shown = {name: w.text() for name, w in fields.items() if isinstance(w, QLabel)}
    assert shown == {"op": "torch.nn.functional.softsign", "reason": REASON, "source": "torch",
                     "out_shape": "", "out_dtype": "float32"}
    assert all(w.textFormat() == Qt.PlainText for w in fields.values() if isinstance(w, QLabel))  # PlainText
    editable = [n for n, w in fields.items() if isinstance(w, QLineEdit)]
    assert editable == ["__title__"] and not win.inspector.search_buttons
    assert "__trainable__" not in fields                # softsign has no weights to freeze


def test_opaque_is_never_offered_for_adding(win):
    assert "Opaque" not in win.palette.items() and "Linear" in win.palette.items()
    from PySide6.QtCore import QPointF
    menu = win.build_context_menu(QPointF(-2000, -2000), None)
    add = next(a.menu() for a in menu.actions() if a.text() == "Add Node")
    offered = {a.text() for sub in add.actions() if sub.menu() for a in sub.menu().actions()}
    assert "Linear" in offered and "Opaque" not in offered


def test_an_onnx_flavour_opaque_node_says_it_runs_through_onnxruntime(make_window):
    from onnx import helper

    from workbench.core import opaque_onnx
    from workbench.ui.document import Document
    project = Project(name="onnx-opaque")
    g = project.graph
    x = g.add_node("Input", "x", {"shape": "8"}, (0, 0))
    hm = g.add_node("Opaque", "hm", opaque_onnx.onnx_params(
        helper.make_node("Hardmax", ["h"], ["y"], name="hm", axis=-1), {"": 17},
        [{"input": 0}], {}, (8,), "float32", reason="no Workbench node for Hardmax"), (240, 0))
    out = g.add_node("Output", "out", None, (480, 0))
    g.connect(x.id, "out", hm.id, "x0")
    g.connect(hm.id, "out", out.id, out.spec.inputs[0].name)
    win = make_window()
    win.set_document(Document(project))
    item = win.scene.nodes[hm.id]
    assert item.opaque and item.param_summary == hm.params["op"]
    assert "its weights (if any) stay fixed" in item.toolTip()
    assert item.out_text == "(batch, 8)"
    win.scene.select_nodes([hm.id])
    fields = win.inspector.fields
    assert fields["source"].text() == "onnx" and fields["out_shape"].text() == "8"
    assert "call" not in fields and "__trainable__" not in fields
