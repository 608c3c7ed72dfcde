"""Undo/redo, clipboard between windows, files, unsaved-changes prompts, crash recovery."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QUrl, Qt
from PySide6.QtWidgets import QApplication

from workbench.core import project as project_io
from workbench.core.graph import Edge

from .conftest import drag, node_point, port_point
from .test_editor import drop_mime
from .test_inspector import select

ROOT = Path(__file__).resolve().parents[2]


def key(qtbot, win, k, mod=Qt.ControlModifier):
    if QApplication.activeWindow() is not win:  # shortcuts go to the active window
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=2000)
    win.view.setFocus()
    qtbot.keyClick(win.view, k, mod)


def test_undo_redo_ten_mixed_edits_restores_the_exact_graph(make_window, qtbot):
    win = make_window("mlp-classifier")
    g = win.graph
    start = g.to_dict()
    vp = win.view.viewport()
    # 1 add from the palette (drop)
    mime = win.palette.tree.mimeData([win.palette.items()["Dropout"]])
    drop_mime(vp, mime, QPoint(150, 150))
    drop = next(n.id for n in g.nodes.values() if n.type == "Dropout")
    # 2 parameter change in the inspector
    fc2 = select(win, qtbot, "fc2")
    win.inspector.fields["out_features"].setValue(16)
    # 3 rename
    title = win.inspector.fields["__title__"]
    title.setText("hidden2")
    title.editingFinished.emit()
    # 4 move by mouse
    drag(vp, node_point(win, fc2), node_point(win, fc2) + QPoint(40, 80), steps=8)
    # 5 disconnect relu1 → fc2 by dragging the edge end off
    win.view.resetTransform()
    win.reveal_node(fc2)
    drag(vp, port_point(win, fc2, "in", False), port_point(win, fc2, "in", False) + QPoint(-10, 150))
    # 6 connect relu1 → dropout, 7 dropout → fc2 (through the command path the drag uses)
    relu1 = g.by_title("relu1").id
    win.scene.select_nodes([])
    win.view.centerOn(win.scene.nodes[drop])
    from workbench.ui.editor import commands
    win.document.push(commands.Connect(g, Edge(relu1, "out", drop, "in")))
    drag(vp, port_point(win, drop, "out", True), port_point(win, fc2, "in", False))
    # 8 duplicate (Ctrl+D) 9 delete (Delete key)
    win.scene.select_nodes([g.by_title("relu2").id])
    key(qtbot, win, Qt.Key_D)
    key(qtbot, win, Qt.Key_Delete, Qt.NoModifier)
    # 10 auto-layout
    win.actions["auto_layout"].trigger()
    stack = win.document.undo_stack
    assert stack.count() == 10, [stack.text(i) for i in range(stack.count())]
    assert Edge(drop, "out", fc2, "in") in g.edges and Edge(relu1, "out", drop, "in") in g.edges
    after = g.to_dict()
    assert after != start
    for _ in range(10):
        key(qtbot, win, Qt.Key_Z)
    assert g.to_dict() == start
    assert not win.document.dirty and not win.isWindowModified()
    for _ in range(10):
        key(qtbot, win, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert g.to_dict() == after
    # the scene mirrors the graph exactly
    assert set(win.scene.nodes) == set(g.nodes) and set(win.scene.edges) == set(g.edges)
    for nid, item in win.scene.nodes.items():
        assert (item.x(), item.y()) == g.nodes[nid].pos


def test_copy_paste_between_two_windows(make_window, qtbot):
    one = make_window("mlp-classifier")
    two = make_window()
    ids = [one.graph.by_title(t).id for t in ("fc1", "relu1", "fc2")]
    one.scene.select_nodes(ids)
    key(qtbot, one, Qt.Key_C)
    key(qtbot, two, Qt.Key_V)
    assert sorted(n.title for n in two.graph.nodes.values()) == ["fc1", "fc2", "relu1"]
    by = {n.title: n.id for n in two.graph.nodes.values()}
    assert sorted((e.src, e.dst) for e in two.graph.edges) == sorted(
        [(by["fc1"], by["relu1"]), (by["relu1"], by["fc2"])])
    assert two.graph.nodes[by["fc1"]].params == one.graph.nodes[ids[0]].params
    # pasting again into the source window: fresh ids and titles, shifted, one undo step
    n = len(one.graph.nodes)
    key(qtbot, one, Qt.Key_V)
    assert len(one.graph.nodes) == n + 3
    titles = [x.title for x in one.graph.nodes.values()]
    assert len(set(titles)) == len(titles)
    assert one.document.undo_stack.count() == 1
    # cut removes, paste brings back
    key(qtbot, two, Qt.Key_A)
    key(qtbot, two, Qt.Key_X)
    assert two.graph.nodes == {}
    key(qtbot, two, Qt.Key_V)
    assert len(two.graph.nodes) == 3 and len(two.graph.edges) == 2


def test_save_and_reopen_is_equal(make_window, qtbot, tmp_path):
    win = make_window("text-classifier")
    win.graph.move_node  # noqa: B018
    target = tmp_path / "my model.wbproj"
    win.ask_save_path = lambda: str(target)
    key(qtbot, win, Qt.Key_S)
    assert target.exists() and not win.document.dirty
    assert win.windowTitle().startswith("my model")
    saved = win.document.project.to_dict()
    other = make_window()
    other.open_file(target)
    assert other.document.project.to_dict() == saved
    assert other.graph.same_as(win.graph)
    assert project_io.load(target).to_json() == target.read_text(encoding="utf-8")
    # an edit marks the title; saving again clears it
    other.scene.select_nodes([other.graph.by_title("head").id])
    key(qtbot, other, Qt.Key_D)
    assert other.isWindowModified() and other.document.dirty
    assert other.save() and not other.isWindowModified()


def test_unsaved_changes_prompt_and_drop_to_open(make_window, qtbot, tmp_path):
    path = tmp_path / "a.wbproj"
    make_window("mlp-classifier").save_as(path)
    win = make_window()
    win.add_node_at_centre("Linear")
    asked = []
    win.ask_unsaved = lambda: asked.append(1) or "cancel"
    assert not win.new_from_template("mlp-regressor")
    assert asked and [n.type for n in win.graph.nodes.values()] == ["Linear"]
    win.ask_unsaved = lambda: "discard"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop_mime(win.view.viewport(), mime, QPoint(100, 100))
    assert win.document.path == path and len(win.graph.nodes) == 10
    # closing with unsaved changes asks; cancel keeps the window open
    win.add_node_at_centre("ReLU")
    win.ask_unsaved = lambda: "cancel"
    assert not win.close()
    win.ask_unsaved = lambda: "discard"
    assert win.close()


CRASH = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from workbench.ui.main_window import MainWindow
from workbench.ui.document import Document
from workbench.core import project
doc = Document(project.load(sys.argv[1]))
win = MainWindow(doc)
win.scene.select_nodes([win.graph.by_title("fc1").id])
win.inspector.fields["out_features"].setValue(7)
win.duplicate()
assert win.document.autosave() is not None
print(json_dump := __import__("json").dumps(win.document.project.to_dict()))
sys.stdout.flush()
os._exit(3)  # a crash: nothing is closed or cleaned up
"""


def test_recovery_after_a_crash(make_window, qtbot, tmp_path):
    path = tmp_path / "p.wbproj"
    make_window("mlp-classifier").save_as(path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CRASH), str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    crashed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(list(Path(os.environ["WORKBENCH_RECOVERY_DIR"]).iterdir())) == 1
    win = make_window()
    offered = []
    win.ask_restore = lambda records: offered.append(records) or True
    assert win.offer_recovery()
    assert offered and offered[0][0]["name"] == "p"
    assert win.document.project.to_dict() == crashed
    assert win.document.path == path and win.document.dirty and win.isWindowModified()
    assert project_io.load(path).graph.by_title("fc1").params["out_features"] == 64  # untouched
    assert win.save() and not win.document.dirty
    assert list(Path(os.environ["WORKBENCH_RECOVERY_DIR"]).iterdir()) == []
    assert not make_window().offer_recovery()  # nothing left to offer


def test_autosave_only_while_dirty(window):
    doc = window.document
    assert doc.autosave() is None
    window.add_node_at_centre("Linear")
    path = doc.autosave()
    assert path is not None and path.exists()
    window.ask_unsaved = lambda: "discard"
    window.close()
    assert not path.exists()


def test_a_recovered_bundled_example_comes_back_untitled():
    from workbench.ui.document import restore
    example = ROOT / "resources" / "examples" / "iris-classifier" / "project.wbproj"
    record = {"path": str(example), "name": "project",
              "project": project_io.load(example).to_dict()}
    project = restore(record)
    assert project.path is None                             # Save asks: the example is never written
    assert Path(project.data["path"]) == (example.parent / "../data/iris.csv").resolve()
    mine = Path("/somewhere/mine.wbproj")
    assert restore(dict(record, path=str(mine))).path == mine
