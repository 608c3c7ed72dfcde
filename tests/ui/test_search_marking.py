"""Marking values as searched: the range dialog from the inspector and the training panel, one
undo step each, kept in the saved project; a space that no longer fits the graph is a warning."""
from __future__ import annotations

import copy
import json

from PySide6.QtCore import Qt

from tests.conftest import EXAMPLES
from workbench.core import project as project_io
from workbench.ui.editor import commands


def open_iris(win, tmp_path):
    project = project_io.load(EXAMPLES / "iris-classifier" / "project.wbproj")
    project.extra.pop("search", None)      # the example ships with a search; start from none
    project.path = None
    path = tmp_path / "iris.wbproj"
    project_io.save(project, path)
    assert win.open_file(path)
    return path


def select(win, *titles) -> list[str]:
    ids = [win.graph.by_title(t).id for t in titles]
    win.scene.select_nodes(ids)
    assert sorted(win.inspector.node_ids) == sorted(ids)
    return ids


def test_lr_searched_from_the_inspector_marked_undone_and_saved(make_window, qtbot, tmp_path, artifacts):
    win = make_window(size=(1300, 860))
    path = open_iris(win, tmp_path)
    extra = copy.deepcopy(win.document.project.extra)
    assert "search" not in extra
    (adam,) = select(win, "adam")
    qtbot.mouseClick(win.inspector.search_buttons["lr"], Qt.LeftButton)
    dialog = win.inspector.search_dialog
    assert dialog.isVisible() and dialog.kind.currentData() == "float"
    assert not dialog.stop_button.isVisible()
    dialog.low.setText("0.1")
    dialog.high.setText("0.0001")
    assert not dialog.ok.isEnabled()
    assert dialog.message.text() == "low 0.1 is above high 0.0001"
    assert dialog.dim() is None
    dialog.grab().save(str(artifacts / "search-dialog-invalid.png"))
    dialog.low.setText("1e-4")
    dialog.high.setText("0.1")
    dialog.log.setChecked(True)
    assert dialog.ok.isEnabled() and dialog.message.isHidden()
    qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    want = {"name": "adam.lr", "kind": "float", "node": adam, "param": "lr",
            "low": 0.0001, "high": 0.1, "log": True}
    assert win.document.project.extra["search"]["space"] == [want]
    assert win.document.dirty and win.document.undo_stack.count() == 1
    mark = win.inspector.search_marks["lr"]
    assert not mark.isHidden() and mark.text() == "searched 0.0001…0.1 log"
    assert win.inspector.search_marks["beta1"].isHidden()
    # its type too: Adam or SGD
    assert not win.inspector.type_button.isHidden()
    qtbot.mouseClick(win.inspector.type_button, Qt.LeftButton)
    types = win.inspector.search_dialog.types
    listed = {types.item(i).text(): types.item(i).checkState() for i in range(types.count())}
    assert listed["Adam"] == Qt.Checked and listed["SGD"] == Qt.Unchecked and "StepLR" not in listed
    next(types.item(i) for i in range(types.count()) if types.item(i).text() == "SGD").setCheckState(Qt.Checked)
    qtbot.mouseClick(win.inspector.search_dialog.ok, Qt.LeftButton)
    assert win.document.project.extra["search"]["space"][1] == {
        "name": "adam.type", "kind": "type", "node": adam, "choices": ["SGD", "Adam"]}
    assert win.inspector.type_mark.text() == "type searched: SGD | Adam"
    win.docks["inspector"].show()
    win.docks["inspector"].raise_()
    qtbot.wait(50)
    win.docks["inspector"].grab().save(str(artifacts / "inspector-searched.png"))
    # undo: the key is gone exactly as before; redo brings both back
    win.document.undo_stack.undo()
    win.document.undo_stack.undo()
    assert win.document.project.extra == extra
    assert mark.isHidden() and win.inspector.type_mark.isHidden()
    win.document.undo_stack.redo()
    win.document.undo_stack.redo()
    assert win.document.project.extra["search"]["space"][0] == want
    # saved as format 2 and read back; reopened, the dialog offers to stop searching
    win.document.save()
    assert json.loads(path.read_text())["format_version"] == 2
    assert project_io.load(path).extra["search"] == win.document.project.extra["search"]
    assert win.open_file(path)
    select(win, "adam")
    assert win.inspector.search_marks["lr"].text() == "searched 0.0001…0.1 log"
    qtbot.mouseClick(win.inspector.search_buttons["lr"], Qt.LeftButton)
    dialog = win.inspector.search_dialog
    assert dialog.low.text() == "0.0001" and dialog.log.isChecked() and dialog.stop_button.isVisible()
    qtbot.mouseClick(dialog.stop_button, Qt.LeftButton)
    assert [d["name"] for d in win.document.project.extra["search"]["space"]] == ["adam.type"]
    assert win.inspector.search_marks["lr"].isHidden()


def test_training_settings_searched_from_the_training_panel(make_window, qtbot, tmp_path, artifacts):
    win = make_window()
    open_iris(win, tmp_path)
    panel = win.panels["training"]
    panel.search_actions["epochs"].trigger()
    dialog = panel.search_dialog
    assert dialog.kind.currentData() == "int"
    assert (dialog.low.text(), dialog.high.text()) == ("100", "400")   # around the 200 epochs
    dialog.low.setText("5")
    dialog.high.setText("50")
    qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    assert win.document.project.extra["search"]["space"] == [
        {"name": "epochs", "kind": "int", "setting": "epochs", "low": 5, "high": 50}]
    assert panel.search_note.text() == "⌕ searched: epochs 5…50"
    assert panel.setting_labels["epochs"].toolTip() == "searched 5…50"
    assert "color" in panel.setting_labels["epochs"].styleSheet()
    assert panel.setting_labels["batch_size"].styleSheet() == ""
    # batch size as a list of values, typed as whole numbers
    panel.search_actions["batch_size"].trigger()
    dialog = panel.search_dialog
    dialog.kind.setCurrentIndex(dialog.kind.findData("choice"))
    dialog.choices.setText("16, x")
    assert not dialog.ok.isEnabled() and dialog.message.text() == "choices: expected a whole number, got 'x'"
    dialog.choices.setText("16, 32, 64")
    qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    assert win.document.project.extra["search"]["space"][1]["choices"] == [16, 32, 64]
    assert panel.search_note.text() == "⌕ searched: epochs 5…50 · batch_size: 16 | 32 | 64"
    win.docks["training"].show()
    win.docks["training"].raise_()
    qtbot.wait(50)
    win.docks["training"].grab().save(str(artifacts / "training-searched.png"))
    win.document.undo_stack.undo()
    assert panel.search_note.text() == "⌕ searched: epochs 5…50"
    # the learning rate is the optimizer node's: the same dimension the inspector edits
    panel.search_actions["lr"].trigger()
    dialog = panel.search_dialog
    assert (dialog.target.node, dialog.target.param) == (win.graph.by_title("adam").id, "lr")
    assert (dialog.low.text(), dialog.high.text(), dialog.log.isChecked()) == ("0.0003", "0.03", True)
    dialog.reject()
    stack = win.document.undo_stack
    assert (stack.count(), stack.index()) == (2, 1)   # cancelled: nothing pushed, redo still there


def test_repeat_a_chain_branches_checked_and_problems_listed(make_window, qtbot, tmp_path):
    win = make_window()
    open_iris(win, tmp_path)
    fc2, relu2 = select(win, "fc2", "relu2")
    menu = win.build_context_menu(win.scene.nodes[fc2].scenePos(), win.scene.nodes[fc2])
    assert "Repeat ×N…" in [a.text() for a in menu.actions()]
    (button,) = win.inspector.structure_buttons
    assert button.text() == "Repeat ×N…"
    qtbot.mouseClick(button, Qt.LeftButton)
    dialog = win.inspector.search_dialog
    assert dialog.kind.currentData() == "repeat" and (dialog.low.text(), dialog.high.text()) == ("1", "3")
    dialog.high.setText("40")
    assert dialog.message.text() == "high: a chain repeats 0 to 32 times"
    dialog.high.setText("4")
    qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    assert win.document.project.extra["search"]["space"] == [
        {"name": "repeat fc2…relu2", "kind": "repeat", "low": 1, "high": 4, "nodes": [fc2, relu2]}]
    # fc1 and fc2 are two chains, but not fed from the same output: OK stays disabled
    select(win, "fc1", "fc2")
    (button,) = win.inspector.structure_buttons
    assert button.text() == "Search between branches…"
    qtbot.mouseClick(button, Qt.LeftButton)
    dialog = win.inspector.search_dialog
    assert not dialog.ok.isEnabled()
    assert dialog.message.text() == ("the alternatives must all be fed from the same output "
                                     "('fc2' is fed from elsewhere)")
    dialog.reject()
    # fc2 deleted: the search's problem is a warning in the Problems panel
    win.document.push(commands.RemoveItems(win.graph, [fc2], []))
    message = f"search 'repeat fc2…relu2': node {fc2} is not in the graph"

    def listed():
        rows = [win.problems.topLevelItem(i) for i in range(win.problems.topLevelItemCount())]
        return [(r.text(0), r.text(1)) for r in rows]
    qtbot.waitUntil(lambda: ("(search)", message) in listed(), timeout=2000)
    assert any(p.message == message and p.severity == "warning" for p in win.document.analysis.problems)


def test_two_chains_fed_by_one_output_are_searched_as_branches(qtbot):
    from workbench.core.search_space import SearchSpace
    from workbench.ui.dialogs.search_dialog import SearchRangeDialog
    from workbench.ui.search_edit import structure_targets
    project = project_io.load(EXAMPLES / "iris-classifier" / "project.wbproj")
    g = project.graph
    alt = g.make_node("Linear", "alt", {"out_features": 64}, (840.0, 200.0))
    g.insert_node(alt)
    g.connect(g.by_title("relu1").id, "out", alt.id, "in")   # parked: its output unused
    fc2, relu2 = g.by_title("fc2").id, g.by_title("relu2").id
    ((text, target),) = structure_targets(g, [alt.id, relu2, fc2])
    assert text == "Search between branches…" and target.options == [[fc2, relu2], [alt.id]]
    dialog = SearchRangeDialog(g, SearchSpace(), target, project.training)
    qtbot.addWidget(dialog)
    assert dialog.ok.isEnabled() and dialog.chains.text() == "fc2 → relu2\nor alt"
    assert dialog.dim().to_dict() == {"name": "branch fc2/alt", "kind": "branch",
                                      "options": [[fc2, relu2], [alt.id]]}
    assert structure_targets(g, [fc2]) == []            # one node: nothing to repeat or choose
