"""`workbench new` and `workbench train`: output streams, exit codes, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core import project as project_file


@pytest.fixture
def iris_project(tmp_path, data_dir, capsys):
    path = tmp_path / "iris.wbproj"
    assert main(["new", str(path), "--template", "mlp-classifier", "--data", str(data_dir / "iris.csv")]) == 0
    capsys.readouterr()
    return path


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_new_stores_a_relative_data_path(iris_project, data_dir):
    project = project_file.load(iris_project)
    assert not os.path.isabs(project.data["path"])
    assert (iris_project.parent / project.data["path"]).resolve() == (data_dir / "iris.csv").resolve()
    assert project.training["epochs"] >= 1


def test_new_refuses_to_overwrite(iris_project, data_dir, capsys):
    args = ["new", str(iris_project), "--template", "mlp-classifier", "--data", str(data_dir / "iris.csv")]
    assert main(args) == 1
    assert "already exists" in one_error_line(capsys.readouterr().err)
    assert main(args + ["--force"]) == 0


@pytest.mark.parametrize("args, words", [
    (["--template", "nope"], "unknown template"),
    (["--template", "cnn-classifier"], "--input-shape"),
    (["--template", "mlp-classifier", "--target", "colour"], "colour"),
])
def test_new_bad_input_is_one_line_exit_2(tmp_path, data_dir, capsys, args, words):
    code = main(["new", str(tmp_path / "x"), "--data", str(data_dir / "iris.csv"), *args])
    assert code == 2
    assert words in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.wbproj").exists()


def test_new_ignores_columns_and_targets_a_number(tmp_path, data_dir, capsys):
    path = tmp_path / "petal.wbproj"
    assert main(["new", str(path), "--template", "mlp-regressor", "--data", str(data_dir / "iris.csv"),
                 "--target", "petal_width", "--ignore", "species"]) == 0
    assert "regression, input 3 (float32)" in capsys.readouterr().out
    project = project_file.load(path)
    assert project.data["roles"] == {"species": "ignore"} and project.data["target"] == "petal_width"
    assert project.graph.by_title("input").params["shape"] == "3"


def test_train_json_is_the_only_stdout(iris_project, tmp_path, capsys):
    out_dir = tmp_path / "myrun"
    assert main(["train", str(iris_project), "--epochs", "3", "--out", str(out_dir), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["epochs_run"] == 3 and summary["status"] == "completed"
    assert json.loads((out_dir / "summary.json").read_text()) == summary
    assert "epoch" in captured.err  # progress went to stderr


def test_train_table_and_overrides(iris_project, capsys):
    code = main(["train", str(iris_project), "--epochs", "2", "--batch-size", "8", "--lr", "0.01",
                 "--seed", "3", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "f1_macro" in out and "run folder:" in out
    run = out.split("run folder:")[1].splitlines()[0].strip()
    assert out.strip().splitlines()[-1].startswith("kept epoch ")   # the last line: which epoch, why
    trained = project_file.load(os.path.join(run, "project.wbproj"))
    assert trained.training["batch_size"] == 8 and trained.training["seed"] == 3
    assert next(n for n in trained.graph.nodes.values() if n.type == "Adam").params["lr"] == 0.01
    assert (iris_project.parent / "runs").is_dir()


def test_train_with_other_data_files(iris_project, tmp_path, data_dir, capsys):
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(data_dir / "iris.csv")
    df.iloc[:120].to_csv(tmp_path / "a.csv", index=False)
    df.iloc[120:].to_csv(tmp_path / "b.csv", index=False)
    assert main(["train", str(iris_project), "--data", str(tmp_path / "a.csv"), "--test-data",
                 str(tmp_path / "b.csv"), "--epochs", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sum(map(sum, summary["test"]["confusion_matrix"])) == 30


def test_train_unreadable_inputs_exit_2(tmp_path, iris_project, capsys):
    assert main(["train", str(tmp_path / "missing.wbproj")]) == 2
    one_error_line(capsys.readouterr().err)
    (tmp_path / "broken.wbproj").write_text("{not json")
    assert main(["train", str(tmp_path / "broken.wbproj")]) == 2
    one_error_line(capsys.readouterr().err)
    assert main(["train", str(iris_project), "--data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in one_error_line(capsys.readouterr().err)
    (tmp_path / "empty.csv").write_text("")
    assert main(["train", str(iris_project), "--data", str(tmp_path / "empty.csv")]) == 2
    one_error_line(capsys.readouterr().err)
    project = project_file.load(iris_project)
    project.data = {}
    project_file.save(project, tmp_path / "nodata.wbproj")
    assert main(["train", str(tmp_path / "nodata.wbproj")]) == 2
    assert "--data" in one_error_line(capsys.readouterr().err)


def test_train_failure_exit_1(iris_project, capsys):
    project = project_file.load(iris_project)
    project.training["early_stopping"]["metric"] = "val_r2"   # not measured for classes
    project_file.save(project, iris_project)
    assert main(["train", str(iris_project), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "val_r2" in one_error_line(captured.err)


def test_ctrl_c_stops_cleanly_keeping_the_last_checkpoint(iris_project, tmp_path, capsys, monkeypatch):
    from workbench.cli import train_cmd

    class CtrlCAtEpoch3(train_cmd.Progress):
        def __call__(self, e):
            super().__call__(e)
            if e.kind == "epoch" and e.epoch == 3:
                os.kill(os.getpid(), signal.SIGINT)   # handled by `workbench train`, not pytest

    monkeypatch.setattr(train_cmd, "Progress", CtrlCAtEpoch3)
    out_dir = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "50", "--out", str(out_dir)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "stopped" in err
    assert json.loads((out_dir / "last.json").read_text())["epoch"] == 3
    assert json.loads((out_dir / "summary.json").read_text())["status"] == "stopped"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_from_the_command_line(iris_project, tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", str(iris_project), "--epochs", "2", "--out", str(out_dir), "--json"]) == 0
    assert main(["train", str(iris_project), "--resume", str(out_dir), "--epochs", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n}\n", 1)[1])
    assert summary["epochs_run"] == 4
    epochs = [json.loads(ln)["epoch"] for ln in (out_dir / "metrics.jsonl").read_text().splitlines()
              if json.loads(ln)["kind"] == "epoch"]
    assert epochs == [1, 2, 3, 4]


def test_unavailable_device_is_one_line_exit_2(iris_project, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", str(iris_project), "--device", "cuda"]) == 2
    assert "cuda" in one_error_line(capsys.readouterr().err).lower()


def test_kfold_cross_validation(iris_project, capsys):
    assert main(["train", str(iris_project), "--kfold", "3", "--epochs", "40", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["k"] == 3 and [f["fold"] for f in report["folds"]] == [1, 2, 3]
    accuracies = [f["val"]["accuracy"] for f in report["folds"]]
    assert report["mean"]["accuracy"] == pytest.approx(sum(accuracies) / 3)
    assert min(accuracies) >= 0.85  # every held-out third of iris is learned
    assert not (iris_project.parent / "runs").exists()  # cross-validation writes no run
    assert main(["train", str(iris_project), "--kfold", "1"]) == 2
    assert "at least 2" in one_error_line(capsys.readouterr().err)


def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path, iris_project, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["train", str(iris_project), "--epochs", "1", "--out", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(blocker / "run") in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_moved_runs_keep_their_data_paths_and_names(iris_project, tmp_path, capsys):
    from workbench.train.runs import move_runs
    old = tmp_path / "elsewhere" / "runs"
    for name in ("a", "b"):
        assert main(["train", str(iris_project), "--epochs", "1", "--out", str(old / name)]) == 0
    capsys.readouterr()
    relative = project_file.load(old / "a" / "project.wbproj").data["path"]
    assert not Path(relative).is_absolute()                 # relative to the run folder
    new = tmp_path / "deep" / "er" / "runs"
    (new / "a").mkdir(parents=True)                         # a name already taken
    moved = move_runs(old, new)
    assert [p.name for p in moved] == ["a-2", "b"] and not old.exists()
    want = (iris_project.parent / project_file.load(iris_project).data["path"]).resolve()
    for run in moved:
        data = project_file.load(run / "project.wbproj").data["path"]
        assert not Path(data).is_absolute() and (run / data).resolve() == want
        assert main(["export", str(run / "project.wbproj"), "--run", str(run), "--format", "onnx",
                     "-o", str(run / "m.onnx")]) == 0


def _misfitted(iris_project) -> Path:
    """The iris project with the Input, Target and head edited away from what the data gives."""
    project = project_file.load(iris_project)
    g = project.graph
    g.set_param(g.by_title("input").id, "shape", "7")
    g.set_param(g.by_title("target").id, "num_classes", 5)
    g.set_param(g.by_title("head").id, "out_features", 5)
    return project_file.save(project, iris_project.with_name("misfit.wbproj"))


FIT_NOTES = ["Input 'input': shape 7 → 4 (fitted to the data)",
             "Target 'target': num_classes 5 → 3 (fitted to the data)",
             "Linear 'head': out_features 5 → 3 (fitted to the data)"]


def test_train_says_which_nodes_it_fits_to_the_data(iris_project, tmp_path, capsys):
    assert main(["train", str(_misfitted(iris_project)), "--epochs", "1", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if ln.startswith("warning:")] == [f"warning: {n}" for n in FIT_NOTES]
    trained = project_file.load(tmp_path / "r" / "project.wbproj").graph
    assert trained.by_title("input").params["shape"] == "4"        # it did fit, as it said
    assert main(["train", str(iris_project), "--epochs", "1", "--out", str(tmp_path / "s")]) == 0
    assert "warning:" not in capsys.readouterr().err                 # a fitted project: silent


def test_validate_reports_the_same_fits_as_warnings(iris_project, capsys):
    assert main(["validate", str(_misfitted(iris_project))]) == 0    # warnings: still valid
    out = capsys.readouterr().out
    titles = ["input", "target", "head"]
    assert [ln for ln in out.splitlines() if ln.startswith("warning:")] == [
        f"warning: [{t}] {n}" for t, n in zip(titles, FIT_NOTES)]
    assert out.rstrip().endswith("· 3 warnings")
    assert main(["validate", str(iris_project)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_validate_says_when_the_data_could_not_be_checked(iris_project, tmp_path, capsys):
    project = project_file.load(iris_project)
    project.data["path"] = "gone.csv"
    path = project_file.save(project, tmp_path / "gone.wbproj")
    assert main(["validate", str(path)]) == 0
    warnings = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(
        "warning: the data was not checked against the graph: ") and "gone.csv" in warnings[0], warnings
