"""A merge with eight optional inputs (Add a..h) shows the ports in use and one spare, so a
two-input Add is as small as it always was and a ninth-port search never happens."""
from __future__ import annotations

from tests.ui.conftest import drag, port_point


def visible(item) -> list[str]:
    return [name for name, port in item.inputs.items() if port.isVisible()]


def test_an_add_grows_a_spare_port_as_its_inputs_are_wired(make_window, qtbot):
    win = make_window()
    g = win.graph
    a = g.add_node("Input", "a", {"name": "a", "shape": "4"})
    b = g.add_node("Input", "b", {"name": "b", "shape": "4"})
    c = g.add_node("Input", "c", {"name": "c", "shape": "4"})
    add = g.add_node("Add", "sum")
    for node, pos in ((a, (0, 0)), (b, (0, 130)), (c, (0, 260)), (add, (330, 0))):
        g.move_node(node.id, pos)
    win.view.centerOn(250, 150)
    item = win.scene.nodes[add.id]
    assert visible(item) == ["a", "b", "c"]
    short = item.height
    g.connect(a.id, "out", add.id, "a")
    g.connect(b.id, "out", add.id, "b")
    assert visible(item) == ["a", "b", "c"] and item.height == short
    drag(win.view.viewport(), port_point(win, c.id, "out", True), port_point(win, add.id, "c", False))
    assert [e.dst_port for e in g.edges_into(add.id)] == ["a", "b", "c"]
    assert visible(item) == ["a", "b", "c", "d"] and item.height > short
    win.document.undo_stack.undo()
    assert visible(item) == ["a", "b", "c"] and item.height == short
