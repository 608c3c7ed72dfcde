"""The Data panel with several inputs: columns grouped in the table's Input column become one
model input each, and the panel says which Input node each group feeds."""
from __future__ import annotations

from tests.train.test_multi_input import mixed_table
from tests.ui.test_data_panel import load


def test_grouping_columns_makes_two_inputs_each_named_on_its_input(make_window, qtbot, tmp_path):
    win = make_window("mlp-classifier")
    panel = load(qtbot, win, mixed_table(tmp_path / "mixed.csv"))
    assert len(panel.loaded.prepared.inputs) == 1       # a text model reads the text only
    stack = win.document.undo_stack
    before = stack.count()
    names = [panel.columns.item(r, 0).text() for r in range(panel.columns.rowCount())]
    box = panel.columns.cellWidget(names.index("description"), 3)
    box.setCurrentText("text")
    box.activated.emit(box.currentIndex())                # the user's pick
    qtbot.waitUntil(lambda: not panel.busy() and stack.count() == before + 1, timeout=30_000)
    box = panel.columns.cellWidget(names.index("downloads"), 3)
    box.lineEdit().setText("numbers")
    box.lineEdit().editingFinished.emit()                 # typed, then Enter
    qtbot.waitUntil(lambda: not panel.busy() and stack.count() == before + 2, timeout=30_000)
    assert win.document.project.data["inputs"] == [
        {"name": "text", "columns": ["description"]}, {"name": "numbers", "columns": ["downloads"]}]
    prepared = panel.loaded.prepared
    assert [(i.name, i.kind) for i in prepared.inputs] == [("text", "text"), ("numbers", "table")]
    info = panel.info_label.text()
    assert "2 inputs" in info and "no Input of that name" in info   # the graph has one Input, x
    assert any("size_mb" in w and "in no input" in w for w in prepared.warnings)
    stack.undo()
    assert win.document.project.data["inputs"] == [{"name": "text", "columns": ["description"]}]


def test_an_image_folder_shows_its_classes_and_augmentations(make_window, qtbot, tmp_path):
    from workbench.data.shapes import make_shapes
    from tests.conftest import ARTIFACTS

    win = make_window("mlp-classifier")
    win.resize(1500, 1000)
    make_shapes(tmp_path / "shapes", per_class=8, size=24, seed=2)
    panel = load(qtbot, win, tmp_path / "shapes")
    assert panel.error() == ""
    p = panel.loaded.prepared
    assert p.inputs[0].kind == "image" and p.classes == ["circle", "cross", "square", "triangle"]
    assert "image folder" in panel.info_label.text()
    assert not panel.images_box.isHidden()
    assert len(panel.thumbs.tiles()) == 4 * 6 and panel.thumbs.class_labels()[0].text() == "<b>circle</b><br>8 images"
    assert panel.opt["image.mode"].isVisibleTo(panel)
    # flips on: the grid redraws with them (one undoable data edit)
    stack = win.document.undo_stack
    before = stack.count()
    panel.opt["augment.flip"].setValue(0.5)
    panel.opt["augment.rotate"].setValue(20.0)
    qtbot.waitUntil(lambda: not panel.busy() and stack.count() == before + 1, timeout=30_000)
    assert win.document.project.data["augment"]["rotate"] == 20.0
    assert len(panel.aug_grid.tiles()) > 4
    panel.grab().save(str(ARTIFACTS / "data-panel-images.png"))
    panel.images_box.grab().save(str(ARTIFACTS / "data-panel-image-grids.png"))
