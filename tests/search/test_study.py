"""The search end to end through the same code the CLI and the app use: trials are real
trainings of the bundled iris data."""
from __future__ import annotations

import json
import shutil

import optuna
import pytest

from tests.conftest import DATA, EXAMPLES
from tests.search.helpers import SPACE, searched_project
from workbench.core import project as project_file
from workbench.core import search_space as ss
from workbench.search import Options, Search, SearchError, best, open_study, records
from workbench.train.runs import read_run


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One 6-trial study, shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("search")
    path = searched_project(folder)
    lines: list[str] = []
    search = Search(project_file.load(path), Options(), say=lines.append)
    search.run()
    return path, search, lines


def test_six_trials_beat_or_match_the_projects_own_values(searched):
    path, search, _ = searched
    trials = records(search.study)
    assert len(trials) == 6 and all(t.state in ("complete", "pruned") for t in trials)
    baseline = trials[0]
    assert search.study.trials[0].user_attrs["baseline"] is True
    assert baseline.params == {"lr": 3e-4, "width": 64, "depth": 1}   # the project as drawn
    top = best(search.study)[0]
    assert top.values[0] >= baseline.values[0]
    # the figure is the trial run's own validation accuracy, as its run folder says
    run = read_run(path.parent / top.folder)
    assert run.split("val")["accuracy"] == pytest.approx(top.values[0])
    assert top.values[0] >= 0.9


def test_each_trial_is_a_run_folder_with_its_values(searched):
    path, search, _ = searched
    for t in records(search.study):
        folder = path.parent / "runs" / "search-iris" / f"trial-{t.number}"
        assert t.folder == f"runs/search-iris/trial-{t.number}"
        doc = json.loads((folder / "trial.json").read_text())
        assert doc["number"] == t.number and doc["params"] == t.params and doc["state"] == t.state
        trained = project_file.load(folder / "project.wbproj")
        # the run's project is the trial's project: its lr and repeated block are in it
        assert trained.graph.nodes["n10"].params["lr"] == pytest.approx(t.params["lr"])
        assert trained.graph.nodes["n2"].params["out_features"] == t.params["width"]
        linears = [n for n in trained.graph.nodes.values() if n.type == "Linear"]
        assert len(linears) == 2 + t.params["depth"]


def test_a_trial_whose_graph_has_a_shape_error_is_pruned_with_the_reason(tmp_path):
    """A 12×12 kernel on 8×8 digit images: the analysis refuses the graph, naming the node."""
    shutil.copy(DATA / "digits.csv", tmp_path / "digits.csv")
    project = project_file.load(EXAMPLES / "digits-cnn" / "project.wbproj")
    project.data["path"], project.path = "digits.csv", None
    ss.store(project, ss.from_dict({"space": [
        {"name": "kernel", "kind": "choice", "node": "n2", "param": "kernel_size", "choices": [3, 12]}]}))
    path = project_file.save(project, tmp_path / "digits.wbproj")
    lines: list[str] = []
    search = Search(project_file.load(path), Options(trials=2, epochs=1), say=lines.append)
    search.study.enqueue_trial({"kernel": 3})
    search.study.enqueue_trial({"kernel": 12})
    search.run()
    ok, bad = records(search.study)
    assert (ok.state, ok.params, bad.state, bad.params) == ("complete", {"kernel": 3}, "pruned", {"kernel": 12})
    assert bad.reason.startswith("Conv2d 'conv1'") and "kernel" in bad.reason, bad.reason
    assert f"trial 1 pruned: {bad.reason}" in lines
    assert not (tmp_path / "runs" / "search-digits" / "trial-1").exists()   # nothing was trained


def test_searching_a_value_the_data_sets_is_refused(tmp_path):
    space = {"space": [{"name": "classes", "kind": "choice", "node": "n6", "param": "out_features",
                        "choices": [2, 3]}]}
    path = searched_project(tmp_path, space, epochs=1)
    with pytest.raises(SearchError) as err:
        Search(project_file.load(path), Options())
    assert str(err.value) == ("search 'classes': Linear 'head' · out_features is set from the data "
                              "before each training: searching it changes nothing")


def test_a_value_a_parameter_refuses_is_pruned_not_raised(tmp_path):
    space = {"space": [{"name": "gone", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 0}]}
    path = searched_project(tmp_path, space, epochs=1)
    project = project_file.load(path)
    search = Search(project, Options(trials=1))
    search.space.space[0].nodes = ["n4", "n6"]          # not a chain any more
    search.run()
    (trial,) = records(search.study)
    assert trial.state == "pruned"
    assert trial.reason.startswith("invalid values: ")


def test_an_interrupted_trial_fails_and_runs_again_on_resume(tmp_path):
    path = searched_project(tmp_path, epochs=3)
    project = project_file.load(path)
    search = Search(project, Options(trials=3))
    search.on_event = lambda number, e: search.stop() if number == 1 and e.kind == "epoch" else None
    search.run()
    states = [(t.number, t.state) for t in records(search.study)]
    assert states == [(0, "complete"), (1, "failed")]
    assert records(search.study)[1].reason == "interrupted: it runs again when the study resumes"
    first = records(search.study)[0]
    again = Search(project_file.load(path), Options(trials=3))
    again.run()
    trials = records(again.study)
    assert [t.state for t in trials] == ["complete", "failed", "complete", "complete"]
    assert trials[0].values == first.values and trials[0].duration_s == first.duration_s


def test_two_objectives_give_a_pareto_front(tmp_path):
    path = searched_project(tmp_path, epochs=2)
    search = Search(project_file.load(path), Options(trials=4, multi="params"))
    search.run()
    front = best(search.study)
    assert front and all(len(t.values) == 2 for t in front)
    done = [t for t in records(search.study) if t.state == "complete"]
    for t in front:    # nobody is better on both
        assert not any(o.values[0] >= t.values[0] and o.values[1] < t.values[1] for o in done)
    assert [d.name for d in search.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    # the parameter count is the trained model's own
    trained = project_file.load(path.parent / front[0].folder / "project.wbproj")
    from workbench.core.compile import compile_model
    model = compile_model(trained.graph)
    assert front[0].values[1] == sum(p.numel() for p in model.module.parameters())


@pytest.mark.parametrize("space, message", [
    ({"space": []}, "iris.wbproj: nothing is marked as searched"),
    ({"objective": "test_accuracy", "space": SPACE["space"]},
     "objective 'test_accuracy': a search optimises a validation figure"),
    ({"space": [{"name": "w", "kind": "int", "node": "n99", "param": "out_features", "low": 1, "high": 2}]},
     "search 'w': node n99 is not in the graph"),
])
def test_a_search_that_cannot_start_says_why(tmp_path, space, message):
    path = searched_project(tmp_path, space, epochs=1)
    with pytest.raises(SearchError) as err:
        Search(project_file.load(path), Options())
    assert str(err.value).startswith(message) or message in str(err.value)
    assert open_study(project_file.load(path)) is None      # no study was made


def test_the_journal_is_beside_the_project_and_readable_by_optuna(searched):
    path, search, _ = searched
    journal = path.with_suffix(".search.journal")
    assert journal.exists()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name="iris", storage=storage)
    assert len(study.trials) == 6


def test_applying_a_trial_gives_the_trained_project(searched):
    path, search, _ = searched
    top = best(search.study)[0]
    project = project_file.load(path)
    applied = ss.apply(project, ss.of(project), top.params)
    trained = project_file.load(path.parent / top.folder / "project.wbproj")
    assert applied.graph.to_dict() == trained.graph.to_dict()


def test_a_new_study_beside_an_old_ones_trials_gets_its_own_folder(tmp_path):
    path = searched_project(tmp_path, epochs=1)
    Search(project_file.load(path), Options(trials=1)).run()
    path.with_suffix(".search.journal").unlink()          # the study is gone, its runs are not
    again = Search(project_file.load(path), Options(trials=1))
    (trial,) = again.run()
    assert trial.state == "complete" and trial.folder == "runs/search-iris-2/trial-0"
    resumed = Search(project_file.load(path), Options(trials=2))
    (second,) = resumed.run()
    assert second.folder == "runs/search-iris-2/trial-1"
