"""File › New from Example: every example listed with its line and thumbnail; opens as a copy."""
from __future__ import annotations

from pathlib import Path

import workbench.ui  # noqa: F401  (PySide6 workaround first)
from PySide6.QtCore import Qt

from workbench.core import analyse
from workbench.data import DataSettings, prepare
from workbench.ui.dialogs.examples_dialog import ExamplesDialog, as_new_copy

ROOT = Path(__file__).resolve().parents[2]


def test_dialog_lists_every_example_with_description_and_thumbnail(qtbot, artifacts):
    dialog = ExamplesDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(texts) == len(list((ROOT / "resources" / "examples").glob("*/project.wbproj")))
    assert texts[0].startswith("text classifier\nDebian package descriptions")
    assert all(not dialog.list.item(i).icon().isNull() for i in range(dialog.list.count()))
    dialog.list.setCurrentRow(3)
    qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
    assert dialog.chosen().parent.name == dialog.list.item(3).data(Qt.ItemDataRole.UserRole).split("/")[-2]
    dialog.grab().save(str(artifacts / "examples-dialog.png"))


def test_example_opens_as_an_untitled_copy_whose_data_still_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = as_new_copy(ROOT / "resources" / "examples" / "iris-classifier" / "project.wbproj")
    assert project.path is None and Path(project.data["path"]).is_absolute()
    assert analyse(project.graph).valid
    data = prepare(DataSettings.from_dict(project.data), project.folder)
    assert data.classes == ["setosa", "versicolor", "virginica"]


def test_new_from_example_in_the_main_window(make_window):
    win = make_window()
    path = ROOT / "resources" / "examples" / "digits-cnn" / "project.wbproj"
    assert win.new_from_example(path)
    assert win.document.path is None and win.document.project.name == "digits cnn"
    assert win.document.validate_now().valid
    assert any(a.text() == "New from E&xample…" for a in win.menus["file"].actions())


def test_export_for_cluster_is_in_the_file_menu(make_window, tmp_path):
    from workbench.core import project as project_io
    win = make_window("mlp-classifier")
    action = win.actions["export_cluster"]
    assert action in win.menus["file"].actions()
    assert not win.workflow.show_cluster_dialog()          # unsaved: says why instead
    assert "save the project" in win.statusBar().currentMessage()
    project = as_new_copy(ROOT / "resources" / "examples" / "iris-classifier" / "project.wbproj")
    project_io.save(project, tmp_path / "iris.wbproj")
    win.open_file(tmp_path / "iris.wbproj")
    assert win.workflow.show_cluster_dialog()
    assert win.workflow.cluster_dialog.isVisible()
    win.workflow.cluster_dialog.close()


def test_opening_a_bundled_example_directly_opens_a_copy(make_window, tmp_path, monkeypatch):
    """`make run` and `workbench gui <example>` open the shipped file: Save must not write into
    the installation, and runs must not land in it."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    path = ROOT / "resources" / "examples" / "iris-classifier" / "project.wbproj"
    before = path.read_bytes()
    win = make_window()
    assert win.open_file(path)
    assert win.document.path is None and win.document.project.name == "iris classifier"
    assert Path(win.document.project.data["path"]).is_absolute()
    assert win.statusBar().currentMessage().startswith("new project from the example 'iris classifier'")
    from workbench.ui.panels.runs_panel import runs_root
    assert runs_root(win.document.project) == tmp_path / "runs" / "iris_classifier"
    win.ask_save_path = lambda: str(tmp_path / "mine.wbproj")
    assert win.save()
    assert win.document.path == tmp_path / "mine.wbproj" and path.read_bytes() == before
