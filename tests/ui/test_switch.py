"""Issue 13, defects 1 and 2: the app acts on the project on screen, never on the last one.

File › New after a run gives an empty Runs panel and dashboard, and Export ONNX waits for a
run of the new project (it never re-exports the old run over the old project's file); each
untitled project, and each copy of an example, has runs of its own (after a restart too, and
a restored recovery copy gets its runs back); the first Save moves that project's runs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA, EXAMPLES
from workbench.ui.panels.runs_panel import list_runs

IRIS = DATA / "iris.csv"
IRIS_EXAMPLE = EXAMPLES / "iris-classifier" / "project.wbproj"


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def load_iris(qtbot, win) -> None:
    win.workflow.open_data(str(IRIS))
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None
                    and not win.workflow.data.busy(), timeout=30_000)


def train(qtbot, win, epochs: int = 1):
    tp = win.workflow.training
    tp.epochs.setValue(epochs)
    win.actions["train"].trigger()
    assert tp.state == "running", tp.error
    qtbot.waitUntil(lambda: tp.state == "idle", timeout=60_000)
    assert tp.last_result is not None and tp.last_result.status == "completed", tp.error
    return tp.last_result


def export_onnx(qtbot, win):
    wf = win.workflow
    assert wf.export_onnx()
    qtbot.waitUntil(lambda: not wf.exporter.busy(), timeout=60_000)
    assert wf.exporter.last_report is not None, wf.exporter.last_error
    return wf.exporter.last_report


def add_a_model(win) -> None:
    """A new blank project gets a small classifier, as a user would build it."""
    from workbench.ui.main_window import template_project
    from workbench.ui.editor import commands
    from workbench.core import clipboard
    template = template_project("mlp-classifier").graph
    selection = clipboard.copy_selection(template, list(template.nodes))
    nodes, edges = clipboard.prepare_paste(win.graph, selection, (0, 0))
    win.document.push(commands.InsertNodes(win.graph, nodes, edges, "Paste"))


def test_new_after_a_run_starts_empty_and_export_waits_for_its_own_run(
        make_window, qtbot, tmp_path, runs_dir):
    win = make_window("mlp-classifier", size=(1400, 900))
    wf, tp = win.workflow, win.workflow.training
    load_iris(qtbot, win)
    old_run = train(qtbot, win).folder
    assert wf.runs.selected_run() == old_run and win.actions["export_onnx"].isEnabled()
    asked = []
    old_file = tmp_path / "old.onnx"
    wf.ask_export_path = lambda: asked.append("old") or str(old_file)
    assert export_onnx(qtbot, win).passed and old_file.exists()
    old_bytes = old_file.read_bytes()
    assert wf.insight.strips and tp.results.matrix is not None

    win.actions["new"].trigger()                     # File › New (the window says Discard)
    # the Runs panel, the dashboard and the insight are this (empty) project's
    assert wf.runs.tree.topLevelItemCount() == 0 and wf.runs.selected_run() is None
    assert wf.runs.root != old_run.parent
    assert not win.actions["export_onnx"].isEnabled() and not win.actions["export"].isEnabled()
    assert all(s.n == 0 for s in tp.series.values())
    assert all(len(c.getData()[0] if c.getData()[0] is not None else []) == 0
               for c in tp.curves.values())
    assert tp.last_result is None and tp.run_folder is None and tp.results.matrix is None
    assert tp.progress.value() == 0 and tp.status.text().startswith("Ready")
    assert not wf.insight.strips and not wf.insight.tracker.nodes
    assert wf.insight.table.rowCount() == 0
    assert "training completed" not in win.statusBar().currentMessage()
    assert wf.onnx_path is None and wf.exporter.last_report is None
    assert not wf.export_onnx()                      # the shortcut still works, and refuses
    assert win.statusBar().currentMessage() == "nothing to export yet: train the model first"
    assert old_file.read_bytes() == old_bytes

    # the new project trains: its own run, and its export asks for its own file
    add_a_model(win)
    load_iris(qtbot, win)
    new_run = train(qtbot, win).folder
    assert [r.folder for r in _rows(wf)] == [new_run] and new_run != old_run
    assert win.actions["export_onnx"].isEnabled()
    new_file = tmp_path / "new.onnx"
    wf.ask_export_path = lambda: asked.append("new") or str(new_file)
    assert export_onnx(qtbot, win).passed
    assert asked == ["old", "new"] and new_file.exists() and old_file.read_bytes() == old_bytes

    # the first Save takes the new project's run along, and only it
    win.ask_save_path = lambda: str(tmp_path / "mine" / "penguins.wbproj")
    assert win.save()
    moved = tmp_path / "mine" / "runs" / new_run.name
    assert [r.folder for r in _rows(wf)] == [moved] and moved.is_dir()
    assert old_run.is_dir()                          # the old project's run stays where it was
    assert "1 run moved beside it" in win.statusBar().currentMessage()


def _rows(wf):
    from workbench.ui.panels.runs_panel import list_runs
    return list_runs(wf.runs.root)


def test_two_untitled_projects_never_see_each_others_runs(make_window, qtbot, runs_dir):
    win = make_window("mlp-classifier", size=(1400, 900))
    load_iris(qtbot, win)
    first = train(qtbot, win).folder
    first_id = win.document.untitled_id
    win.new_from_template("mlp-classifier")          # same template, same name: other runs
    assert win.document.untitled_id != first_id
    assert win.workflow.runs.tree.topLevelItemCount() == 0
    assert win.workflow.current_runs_root() != first.parent
    assert not win.actions["export_onnx"].isEnabled()

    # copies of one bundled example: each its own runs folder
    assert win.open_file(IRIS_EXAMPLE)
    root_a = win.workflow.current_runs_root()
    assert win.open_file(IRIS_EXAMPLE)
    root_b = win.workflow.current_runs_root()
    assert root_a != root_b and root_a.parent == root_b.parent == runs_dir
    assert root_a.name.startswith("iris_classifier-")

    # a restart: a brand-new window and project list nothing of the runs on disk
    other = make_window(size=(1400, 900))
    assert other.document.path is None and other.workflow.runs.tree.topLevelItemCount() == 0
    assert other.workflow.runs.root.parent == runs_dir and other.workflow.runs.root != first.parent


def test_a_restored_recovery_copy_gets_its_runs_back(make_window, qtbot, runs_dir):
    win = make_window("mlp-classifier", size=(1400, 900))
    load_iris(qtbot, win)
    run = train(qtbot, win).folder
    doc = win.document
    assert doc.dirty and doc.autosave() is not None
    uid = doc.untitled_id
    # the process "crashes": the recovery file stays, a new window offers it
    from workbench.ui import document as document_mod
    document_mod._live_recovery_files.discard(doc.recovery_file)
    fresh = make_window(size=(1400, 900))
    fresh.ask_restore = lambda records: True
    assert fresh.offer_recovery()
    assert fresh.document.untitled_id == uid
    assert fresh.workflow.runs.selected_run() == run
    assert fresh.actions["export_onnx"].isEnabled()


def test_quit_while_training_offers_stop_and_quit(make_window, qtbot, runs_dir):
    win = make_window("mlp-classifier", size=(1400, 900))
    load_iris(qtbot, win)
    tp = win.workflow.training
    tp.epochs.setValue(100_000)
    win.actions["train"].trigger()
    qtbot.waitUntil(lambda: tp.series["val"].n >= 1, timeout=30_000)
    asked = []
    win.ask_stop_training = lambda quitting=False: asked.append(quitting) or "cancel"
    assert not win.close()                           # Cancel: the window and the run go on
    assert asked == [True] and win.isVisible() and tp.state == "running"
    assert not win.new_blank()                       # New asks too, and Cancel keeps it all
    assert asked == [True, False] and tp.state == "running"
    win.ask_stop_training = lambda quitting=False: asked.append(quitting) or "stop"
    assert win.close()                               # Stop and quit
    assert asked[-1] is True and tp.state == "idle" and not win.workflow.threads.busy()
    assert tp.last_result.status == "stopped" and (tp.last_result.folder / "last.pt").exists()


def test_the_stop_question_names_the_buttons(make_window, qtbot, runs_dir, monkeypatch):
    """The real dialog: 'Stop and quit' when quitting, 'Stop and close' otherwise."""
    from PySide6.QtWidgets import QMessageBox
    seen = []

    def fake_exec(box):
        seen.append(sorted(b.text() for b in box.buttons()))
        return 0
    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    win = make_window(size=(1400, 900))
    assert win.ask_stop_training(True) == "cancel" and win.ask_stop_training(False) == "cancel"
    assert seen == [["Cancel", "Stop and quit"], ["Cancel", "Stop and close"]]


def test_new_project_training_follows_the_cli_rule(make_window, qtbot, runs_dir, tmp_path):
    """File › New + data: the epochs and batch `workbench new` picks for the same data."""
    from workbench.core import templates
    from workbench.data import DataSettings
    from workbench.data.fitted import fitted_project
    win = make_window(size=(1400, 900))
    assert win.document.project.training["epochs"] == 20            # File › New's defaults
    add_a_model(win)
    load_iris(qtbot, win)
    rows = win.workflow.data.loaded.prepared.rows
    t = win.document.project.training
    cli, _ = fitted_project("mlp-classifier", DataSettings.from_dict(
        win.document.project.data), tmp_path, "iris")
    assert (t["epochs"], t["batch_size"]) == (cli.training["epochs"], cli.training["batch_size"])
    assert (t["epochs"], t["batch_size"]) == (200, 16)               # iris: 120 training rows
    assert t["early_stopping"]["metric"] == cli.training["early_stopping"]["metric"] == "val_accuracy"
    tp = win.workflow.training
    assert (tp.epochs.value(), tp.batch.value()) == (200, 16)
    assert tp.sizing.isVisibleTo(tp)
    assert tp.sizing.text() == templates.describe_sizing(rows, "classification")
    assert tp.sizing.text().startswith(f"sized for {rows} training rows: 200 epochs, batch 16")
    win.document.undo_stack.undo()                                   # the data step
    assert win.document.project.training["epochs"] == 20 and tp.epochs.value() == 20
    win.document.undo_stack.redo()
    qtbot.waitUntil(lambda: win.workflow.data.prepared_for_project() is not None, timeout=30_000)
    assert (tp.epochs.value(), tp.batch.value()) == (200, 16)
    tp.epochs.setValue(7)                                            # the user's choice stays
    assert tp.sizing.isVisibleTo(tp) and "these settings differ" in tp.sizing.text()


def test_open_folder_without_a_launcher_says_where(make_window, runs_dir):
    win = make_window(size=(1400, 900))
    panel = win.workflow.runs
    panel.root.mkdir(parents=True)
    panel.open_url = lambda url: False
    assert not panel.open_folder()
    assert win.statusBar().currentMessage() == (
        f"no file manager could be started here; the folder is {panel.root}")


def test_default_file_names_have_no_spaces(make_window, runs_dir, monkeypatch):
    from PySide6.QtWidgets import QFileDialog
    starts = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda parent, title, start, filt: (starts.append(start), ("", ""))[1]))
    win = make_window(size=(1400, 900))
    assert win.open_file(IRIS_EXAMPLE) and win.document.name == "iris classifier"
    assert win.workflow.ask_export_path() is None and win.ask_save_path() is None
    assert [Path(s).name for s in starts] == ["iris_classifier.onnx", "iris_classifier.wbproj"]


def test_export_result_is_shown_in_a_message(make_window, qtbot, tmp_path, runs_dir):
    win = make_window("mlp-classifier", size=(1400, 900))
    load_iris(qtbot, win)
    train(qtbot, win)
    out = tmp_path / "iris.onnx"
    win.workflow.ask_export_path = lambda: str(out)
    report = export_onnx(qtbot, win)
    box = win.workflow.export_box
    assert box is not None and box.isVisible() and box.windowTitle() == "Export finished"
    assert box.text().startswith("ONNX verified ✓ iris.onnx · max diff") and str(out) in box.text()
    assert report.passed
    win.actions["new"].trigger()                     # the message was about the last project
    assert win.workflow.export_box is None


def test_two_projects_saved_in_one_folder_list_only_their_own_runs(make_window, qtbot, runs_dir,
                                                                    tmp_path):
    """They share `<folder>/runs/`; each run says which project file made it (origin.json), so
    neither lists nor exports the other's model."""
    win = make_window("mlp-classifier", size=(1400, 900))
    load_iris(qtbot, win)
    a = tmp_path / "shared" / "a.wbproj"
    assert win.save_as(a)
    run_a = train(qtbot, win).folder
    assert run_a.parent == a.parent / "runs"

    win.new_from_template("mlp-classifier")
    load_iris(qtbot, win)
    assert win.save_as(a.parent / "b.wbproj")
    assert win.workflow.runs.tree.topLevelItemCount() == 0
    assert not win.actions["export_onnx"].isEnabled()
    run_b = train(qtbot, win).folder
    assert [r.folder for r in list_runs(run_b.parent, a.parent / "b.wbproj")] == [run_b]
    assert win.workflow.runs.tree.topLevelItemCount() == 1

    assert win.open_file(a)
    assert win.workflow.runs.tree.topLevelItemCount() == 1
    assert win.workflow.runs.selected_run() in (None, run_a)


def test_the_command_line_records_the_project_of_a_run(tmp_path):
    from workbench.cli import main
    from workbench.train.runs import made_by
    project = tmp_path / "p.wbproj"
    assert main(["new", str(project), "--template", "mlp-classifier", "--data", str(IRIS)]) == 0
    assert main(["train", str(project), "--epochs", "1", "--out", str(tmp_path / "runs" / "r")]) == 0
    run = tmp_path / "runs" / "r"
    assert made_by(run, project) and not made_by(run, tmp_path / "other.wbproj")
    moved = tmp_path.rename(tmp_path.with_name(tmp_path.name + "-moved"))  # a folder moved whole
    assert made_by(moved / "runs" / "r", moved / "p.wbproj")
