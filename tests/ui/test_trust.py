"""Bad files never break the app (issue 12), and the app reads each concept through its one
reader (issue 14): runs through `train.runs.read_run`, training settings through
`TrainingSettings`, recovery copies through `core.files`, data through one `prepare`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from workbench.core import project as project_io

ROOT = Path(__file__).resolve().parents[2]
IRIS = DATA / "iris.csv"


def iris_project(tmp_path: Path, **training) -> Path:
    """A saved iris classifier (data beside it) with these training settings written as-is."""
    from workbench.ui.main_window import template_project
    project = template_project("mlp-classifier")
    project.data = {"path": str(IRIS), "target": "species"}
    path = tmp_path / "p.wbproj"
    project_io.save(project, path)
    doc = json.loads(path.read_text())
    doc["training"].update(training)
    path.write_text(json.dumps(doc))
    return path


# -- 1. the Runs panel lists runs through the one run reader -------------------------------

def make_run(root: Path, name: str, summary, weights: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "project.wbproj").write_text("{}")
    if summary is not None:
        (folder / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    if weights:
        (folder / "best.pt").write_bytes(b"")
    return folder


def test_runs_panel_lists_runs_with_bad_summaries_without_raising(app, tmp_path, artifacts):
    from workbench.ui.panels.runs_panel import RunsPanel
    root = tmp_path / "runs"
    make_run(root, "20260101-000001", {"status": "completed", "epochs_run": 12,
                                       "val": {"loss": 0.25}, "test": {"accuracy": 0.9}})
    make_run(root, "20260101-000002", [1, 2, 3])                        # not an object
    make_run(root, "20260101-000003", {"status": "completed", "test": "broken", "val": 3})
    make_run(root, "20260101-000004", {"status": "failed"}, weights=False)
    make_run(root, "20260101-000005", "{not json")
    panel = RunsPanel()
    panel.set_root(root)
    rows = {panel.tree.topLevelItem(i).text(0): [panel.tree.topLevelItem(i).text(c) for c in range(1, 5)]
            for i in range(panel.tree.topLevelItemCount())}
    assert rows == {
        "20260101-000001": ["completed", "12", "0.2500", "accuracy 0.9000"],
        "20260101-000002": ["empty", "—", "—", "—"],
        "20260101-000003": ["completed", "—", "—", "—"],
        "20260101-000004": ["failed · no weights", "—", "—", "—"],
        "20260101-000005": ["empty", "—", "—", "—"],
    }
    tips = {panel.tree.topLevelItem(i).text(0): panel.tree.topLevelItem(i).toolTip(0)
            for i in range(panel.tree.topLevelItemCount())}
    assert tips["20260101-000002"].endswith("summary.json: not a JSON object, ignored")
    assert "summary.json: unreadable" in tips["20260101-000005"]
    panel.resize(620, 260)
    assert panel.grab().save(str(artifacts / "runs-panel-bad-summaries.png"))
    import workbench.ui.panels.runs_panel as runs_panel
    assert not hasattr(runs_panel, "_summary") and "json" not in vars(runs_panel)  # no own parsing


# -- 2. training settings: a bad value is a problem, never a traceback -----------------------

def test_a_bad_training_setting_is_a_problem_and_train_refuses(make_window, qtbot, tmp_path,
                                                               monkeypatch, capfd, artifacts):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    path = iris_project(tmp_path, epochs="ten", batch_size=8)
    win = make_window()
    assert win.open_file(path)
    tp = win.workflow.training
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None, timeout=30_000)
    expected = 'training.epochs: expected a whole number >= 1, got "ten"'
    problems = [win.problems.topLevelItem(i) for i in range(win.problems.topLevelItemCount())]
    assert [(p.text(0), p.text(1)) for p in problems] == [("(training)", expected)]
    assert "1 problem" in win.validation_label.text()
    assert tp.epochs.value() == 20 and tp.batch.value() == 8     # the default, and the good value
    assert tp.error_label.isVisibleTo(tp) and expected in tp.error_label.text()
    win.actions["train"].trigger()
    assert tp.state == "idle" and tp.error == f"cannot train: {expected}"
    assert not (tmp_path / "runs").exists()                       # no run folder made
    win.docks["training"].raise_()
    qtbot.wait(50)
    assert tp.grab().save(str(artifacts / "training-panel-bad-epochs.png"))
    # setting it in the panel fixes the file's value: the problem goes
    tp.epochs.setValue(3)
    assert win.document.project.training["epochs"] == 3
    qtbot.waitUntil(lambda: win.document.analysis.valid, timeout=5_000)
    assert win.problems.topLevelItemCount() == 0 and tp.error_label.isHidden()
    win.document.undo_stack.undo()                                # back to "ten": listed again
    qtbot.waitUntil(lambda: not win.document.analysis.valid, timeout=5_000)
    assert win.problems.topLevelItem(0).text(1) == expected
    assert "Traceback" not in capfd.readouterr().err


def test_a_bad_nested_setting_keeps_the_good_ones(make_window, tmp_path):
    path = iris_project(tmp_path, early_stopping={"enabled": False, "patience": -1})
    win = make_window()
    assert win.open_file(path)
    tp = win.workflow.training
    assert not tp.early.isChecked() and tp.patience.value() == 5
    assert [p.message for p in win.document.analysis.problems] == [
        "training.early_stopping.patience: expected a whole number >= 1, got -1"]


# -- 3. recovery files are read like any other untrusted file ------------------------------

def test_a_hostile_recovery_file_is_skipped_with_a_warning(make_window, capfd):
    folder = Path(os.environ["WORKBENCH_RECOVERY_DIR"])
    folder.mkdir(parents=True)
    (folder / "1-1.recovery.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "1-2.recovery.json").write_text(json.dumps({"pid": "x", "project": {}}))
    (folder / "1-3.recovery.json").write_text(json.dumps({"pid": 0, "project": []}))
    os.mkfifo(folder / "1-4.recovery.json")
    from workbench.ui.main_window import template_project
    good = {"pid": 0, "time": 1.0, "path": None, "name": "kept", "untitled_id": "../../x",
            "project": template_project("mlp-classifier").to_dict()}
    (folder / "1-5.recovery.json").write_text(json.dumps(good))
    win = make_window()
    offered = []
    win.ask_restore = lambda records: offered.append(records) or True
    assert win.offer_recovery()
    assert [r["name"] for r in offered[0]] == ["kept"]
    assert win.document.untitled_id != "../../x" and win.document.untitled_id.isalnum()
    err = capfd.readouterr().err
    skipped = [line for line in err.splitlines() if "recovery copy skipped" in line]
    assert len(skipped) == 4, err
    assert "1-1.recovery.json: nested more than 200 levels deep" in skipped[0]
    assert "1-2.recovery.json: not a recovery record (pid is \"x\")" in skipped[1]
    assert "1-3.recovery.json: not a recovery record (no project object in it)" in skipped[2]
    assert "1-4.recovery.json: is a named pipe (FIFO)" in skipped[3]
    assert "Traceback" not in err


# -- 4. opening data reads the file once -----------------------------------------------------

def test_loading_data_through_the_panel_reads_the_file_once(make_window, qtbot, monkeypatch):
    import workbench.data.prepared as prepared_mod
    import workbench.data.read as read_mod
    real, reads = read_mod.read_table, []

    def counting(path, **kw):
        reads.append(Path(path).name)
        return real(path, **kw)

    for module in (read_mod, prepared_mod):
        monkeypatch.setattr(module, "read_table", counting)
    import workbench.data as data_pkg
    monkeypatch.setattr(data_pkg, "read_table", counting)
    win = make_window("mlp-classifier")
    win.workflow.open_data(str(IRIS))
    qtbot.waitUntil(lambda: win.workflow.data.loaded is not None, timeout=30_000)
    loaded = win.workflow.data.loaded
    assert reads == ["iris.csv"]
    assert loaded.df.shape == (150, 5) and win.workflow.data.model.rowCount() == 150
    assert loaded.schema is loaded.prepared.schema and loaded.prepared.frame is None


# -- 5. `gui --screenshot` never waits on a dialog -------------------------------------------

def screenshot(tmp_path, project) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
               WORKBENCH_NO_SETTINGS="1", WORKBENCH_RUNS_DIR=str(tmp_path / "runs"))
    return subprocess.run([sys.executable, "-m", "workbench", "gui", str(project), "--screenshot",
                           str(tmp_path / "shot.png")], env=env, capture_output=True, text=True,
                          timeout=90)


@pytest.mark.parametrize("case", ["corrupt project", "missing data", "data is a folder"])
def test_screenshot_mode_reports_errors_and_exits(tmp_path, case):
    if case == "corrupt project":
        project = tmp_path / "bad.wbproj"
        project.write_text('{"format_version": 1, "graph": ')
        expected = "bad.wbproj: line 1, column"
    else:
        project = iris_project(tmp_path)
        doc = json.loads(project.read_text())
        target = tmp_path / ("gone.csv" if case == "missing data" else "folder.csv")
        if case == "data is a folder":
            target.mkdir()
        doc["data"]["path"] = str(target)
        project.write_text(json.dumps(doc))
        expected = f"{target.name}: no such file" if case == "missing data" else f"{target.name}"
    proc = screenshot(tmp_path, project)              # a modal box would hang until the timeout
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("workbench:")]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "shot.png").exists()


def test_screenshot_mode_still_takes_a_good_projects_screenshot(tmp_path):
    proc = screenshot(tmp_path, iris_project(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "shot.png")
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- 6. no hand-kept ONNX flag ---------------------------------------------------------------

def test_node_specs_have_no_onnx_flag_and_the_ui_shows_none(make_window):
    from workbench.core.spec import NodeSpec
    with pytest.raises(TypeError, match="onnx_ok"):
        NodeSpec("Old", "Activations", "a plugin written for a development build", onnx_ok=False)
    win = make_window("mlp-classifier")
    tips = [item.toolTip(0) for item in win.palette.items().values()]
    assert tips and not any("ONNX" in tip for tip in tips)


def test_editing_over_a_bad_settings_object_replaces_it_and_undo_restores_the_file(make_window, tmp_path):
    path = iris_project(tmp_path, early_stopping="yes")
    win = make_window()
    assert win.open_file(path)
    tp, doc = win.workflow.training, win.document
    assert [p.message for p in doc.analysis.problems] == [
        'training.early_stopping: expected an object such as {"enabled": true, "patience": 5}, '
        'got "yes"']
    tp.patience.setValue(7)                                  # no TypeError on the string
    assert doc.project.training["early_stopping"] == {"patience": 7}
    assert doc.validate_now().valid
    doc.undo_stack.undo()
    assert doc.project.training["early_stopping"] == "yes" and not doc.validate_now().valid
    assert doc.project.training == json.loads(path.read_text())["training"]
