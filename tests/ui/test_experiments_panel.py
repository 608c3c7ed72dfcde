"""The Experiments panel: a search run from the window on the iris example (3 searched values,
2 epochs a trial), its table and charts, Apply trial as one undoable edit, Stop, the hints.
Screenshots in tests/_artifacts/experiments-*.png (looked at)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.iris_runs import iris_project
from workbench.core import project as project_io
from workbench.core import search_space as ss
from workbench.ui.document import Document
from workbench.ui.panels.experiments_panel import NO_SPACE, UNSAVED

SPACE = {"objective": "val_loss", "trials": 4, "space": [
    {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-3, "high": 0.1, "log": True},
    {"name": "width", "kind": "int", "node": "n2", "param": "out_features", "low": 8, "high": 64},
    {"name": "depth", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 2}]}


def searched_project(folder, space=SPACE):
    project = iris_project(folder)
    project.extra["search"] = space
    path = folder / "iris.wbproj"
    project_io.save(project, path)
    return path


@pytest.fixture
def panel_window(make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "app-runs"))
    win = make_window(size=(1400, 900))
    path = searched_project(tmp_path)
    win.set_document(Document(project_io.load(path)))
    win.docks["experiments"].show()
    win.docks["experiments"].raise_()
    panel = win.panels["experiments"]
    panel.epochs.setValue(2)
    return win, panel


def run_search(qtbot, panel, trials: int):
    panel.trials.setValue(trials)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.state == "running" and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=120_000)


def searched_values(project) -> dict:
    g = project.graph
    linear = [n for n in g.nodes.values() if n.type == "Linear"]
    return {"lr": g.nodes["n10"].params["lr"], "width": g.nodes["n2"].params["out_features"],
            "depth": len(linear) - 2}


def test_a_search_from_the_panel_then_apply_and_undo_the_best_trial(panel_window, qtbot, artifacts):
    win, panel = panel_window
    doc = win.document
    assert panel.hint.isHidden() and panel.trials.value() == 4   # the space's own trials
    run_search(qtbot, panel, 4)
    assert panel.error == ""
    assert panel.status.text().startswith("search finished: 4 trials run, 4 in the study · best: trial ")
    assert panel.model.rowCount() == 4
    assert [r.state for r in panel.records] == ["complete"] * 4
    assert panel.model.headers() == ["#", "State", "val_loss", "lr", "width", "depth", "Duration", "Reason"]
    # trial 0 is the project as drawn; every trial is a normal run folder beside the project
    assert panel.records[0].params == {"lr": 0.003, "width": 64, "depth": 1}
    for r in panel.records:
        assert (doc.project.folder / r.folder / "project.wbproj").is_file()
        assert r.folder == f"runs/search-iris/trial-{r.number}"
    # sorting by the objective puts the best first; the filters narrow the rows
    panel.table.sortByColumn(2, Qt.AscendingOrder)
    best = min(panel.records, key=lambda r: r.values[0])
    assert panel.proxy.index(0, 0).data() == str(best.number)
    panel.state_filter.setCurrentIndex(panel.state_filter.findData("pruned"))
    assert panel.proxy.rowCount() == 0
    panel.state_filter.setCurrentIndex(0)
    panel.filter.setText(panel.model.text(panel.records.index(best), 4))   # its width
    assert best.number in [int(panel.proxy.index(i, 0).data()) for i in range(panel.proxy.rowCount())]
    panel.filter.clear()
    assert panel.proxy.rowCount() == 4
    # the charts have something on them: one polyline per complete trial, importance bars
    lines = panel.parallel_plot.getPlotItem().listDataItems()
    assert len(lines) == 4
    assert set(panel.importance) == {"lr", "width", "depth"}
    assert not panel.tabs.isTabVisible(panel.tabs.indexOf(panel.pareto_plot))   # one objective

    assert panel.select_trial(best.number)      # outlined in the parallel coordinates
    assert len(panel.parallel_plot.getPlotItem().listDataItems()) == 5
    assert panel.grab().save(str(artifacts / "experiments-table.png"))
    panel.tabs.setCurrentWidget(panel.parallel_plot)
    qtbot.wait(50)
    assert panel.grab().save(str(artifacts / "experiments-parallel.png"))

    before = doc.project.to_dict()
    assert doc.undo_stack.count() == 0
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    assert doc.undo_stack.count() == 1 and doc.undo_stack.text(0) == f"Apply trial {best.number}"
    applied = searched_values(doc.project)
    assert applied["width"] == best.params["width"] and applied["depth"] == best.params["depth"]
    assert applied["lr"] == pytest.approx(best.params["lr"])
    assert doc.project.training == before["training"]   # the epochs override is the search's
    assert set(win.scene.nodes) == set(doc.graph.nodes)  # the canvas followed the graph
    assert len(win.scene.edges) == len(doc.graph.edges)
    doc.undo_stack.undo()
    assert doc.project.to_dict() == before
    assert set(win.scene.nodes) == set(doc.graph.nodes)

    # Export trial opens the normal Export dialog on that trial's run
    qtbot.mouseClick(panel.export_button, Qt.LeftButton)
    dialog = win.workflow.dialog
    assert dialog is not None and dialog.run.currentData() == str(doc.project.folder / best.folder)
    dialog.close()

    # reopening the project shows the study beside it
    win.set_document(Document(project_io.load(doc.project.path)))
    panel = win.panels["experiments"]
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=20_000)
    assert panel.status.text() == "4 trials of an earlier search; Start resumes it"


def test_stop_mid_search_keeps_the_finished_trials(panel_window, qtbot):
    win, panel = panel_window
    panel.trials.setValue(60)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: any(r.state == "complete" for r in panel.records), timeout=60_000)
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert panel.state == "stopping"
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=60_000)
    states = [r.state for r in panel.records]
    assert panel.status.text().startswith("stopped: ")
    assert 1 <= states.count("complete") < 60
    assert panel.model.rowCount() == len(states)
    assert "running" not in states       # the interrupted trial is failed, to run again
    assert all(r.reason == "interrupted: it runs again when the study resumes"
               for r in panel.records if r.state == "failed")
    n = states.count("complete") + states.count("pruned")
    assert panel.status.text().startswith(f"stopped: {n} finished trial")
    # Start again with Trials at what the study has: nothing to run, and it says so
    panel.trials.setValue(n)
    run_search(qtbot, panel, n)
    assert panel.status.text().startswith(f"the study already has its {n} trials: raise Trials")
    assert panel.model.rowCount() == len(states)


def test_a_running_search_is_dropped_with_its_document(panel_window, qtbot, tmp_path):
    win, panel = panel_window
    panel.trials.setValue(60)
    assert panel.start()
    qtbot.waitUntil(lambda: bool(panel.records), timeout=60_000)
    other = tmp_path / "other"
    other.mkdir()
    win.set_document(Document(project_io.load(searched_project(other))))
    assert panel.state == "idle" and panel.model.rowCount() == 0
    qtbot.waitUntil(lambda: not win.threads.busy(), timeout=60_000)   # the old search stopped
    assert panel.model.rowCount() == 0 and panel.status.text() == ""


def test_hints_without_a_space_or_unsaved_and_errors_in_one_line(make_window, qtbot, tmp_path):
    win = make_window("mlp-classifier")
    panel = win.panels["experiments"]
    assert panel.hint.text() == NO_SPACE and not panel.start_button.isEnabled()
    assert not panel.start()

    project = project_io.load(searched_project(tmp_path))
    project.path = None                               # as an example's untitled copy
    win.set_document(Document(project))
    assert panel.hint.text() == UNSAVED and not panel.start_button.isEnabled()

    broken = dict(SPACE, space=[dict(SPACE["space"][1], node="n99")])
    sub = tmp_path / "broken"
    sub.mkdir()
    win.set_document(Document(project_io.load(searched_project(sub, broken))))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=30_000)
    assert panel.error_label.text() == "⚠ search 'width': node n99 is not in the graph"
    assert panel.model.rowCount() == 0

    project = project_io.load(searched_project(tmp_path))   # loading checks the space: an
    project.extra["search"] = dict(SPACE, sampler="annealing")   # edit in memory can break it
    win.set_document(Document(project))
    assert panel.hint.text() == ("The project's search space cannot be used: search.sampler: "
                                 "expected one of tpe, random, nsga2, qmc, got 'annealing'")


def test_parallel_coordinates_place_values_on_their_axes():
    from workbench.ui.panels.experiments_charts import pareto_front, position
    lr = ss.Dim("lr", "float", low=1e-3, high=0.1, log=True)
    choice = ss.Dim("act", "choice", choices=["a", "b", "c"])
    assert position(lr, 1e-2, []) == pytest.approx(0.5)
    assert [position(choice, c, []) for c in "abc"] == [0.0, 0.5, 1.0]
    assert position(choice, "z", []) is None
    assert pareto_front([(0, 1.0, 5.0), (1, 2.0, 1.0), (2, 2.5, 4.0)], ["minimize", "minimize"]) == {0, 1}


def test_apply_trial_retypes_nodes_and_sets_training_in_one_undo_step(app, tmp_path):
    from workbench.ui.apply_trial import ApplyTrial
    space = ss.from_dict({"space": [
        {"name": "opt", "kind": "type", "node": "n10", "choices": ["Adam", "SGD"]},
        {"name": "batch", "kind": "int", "setting": "batch_size", "low": 8, "high": 64},
        {"name": "depth", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 3}]})
    doc = Document(project_io.load(searched_project(tmp_path)))
    before = doc.project.to_dict()
    told = []
    doc.trainingChanged.connect(lambda: told.append(doc.project.training["batch_size"]))
    doc.push(ApplyTrial(doc, space, {"opt": "SGD", "batch": 32, "depth": 3}, 7))
    g = doc.graph
    assert g.nodes["n10"].type == "SGD" and g.nodes["n10"].params["lr"] == 0.003   # lr kept
    assert doc.project.training["batch_size"] == 32 and told == [32]
    assert sum(n.type == "Linear" for n in g.nodes.values()) == 5
    assert g.same_as(ss.apply(project_io.load(doc.project.path), space,
                              {"opt": "SGD", "batch": 32, "depth": 3}).graph)
    doc.undo_stack.undo()
    assert doc.project.to_dict() == before and told == [32, 16]
    doc.undo_stack.redo()
    assert doc.graph.nodes["n10"].type == "SGD" and doc.project.training["batch_size"] == 32
    doc.close()


def test_a_two_objective_search_shows_its_pareto_front(panel_window, qtbot):
    win, panel = panel_window
    panel.multi.setCurrentIndex(panel.multi.findData("params"))
    run_search(qtbot, panel, 4)
    assert panel.error == "" and panel.model.headers()[2:4] == ["val_loss", "params"]
    # reopened, the panel offers to resume with the study's own two objectives
    win.set_document(Document(project_io.load(win.document.project.path)))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=20_000)
    assert panel.multi.currentData() == "params"
    assert panel.tabs.isTabVisible(panel.tabs.indexOf(panel.pareto_plot))
    points = [(r.number, *r.values) for r in panel.records if r.state == "complete"]
    assert len(points) == 4 and all(len(p) == 3 for p in points)
    # trial 0 is the project as drawn: fc1 64 wide, one fc2: 4·64+64 + 64·64+64 + 64·3+3
    assert points[0][2] == 4675
    from workbench.ui.panels import experiments_charts as ec
    front = ec.draw_pareto(panel.pareto_plot, panel.records, ["minimize", "minimize"])
    best_loss = min(points, key=lambda p: (p[1], p[2]))[0]
    fewest = min(points, key=lambda p: (p[2], p[1]))[0]
    assert {best_loss, fewest} <= front        # both ends of the front are on it
    assert panel.model.text(0, 3) == "4,675"


def test_closing_the_window_during_a_search_stops_its_thread(panel_window, qtbot):
    win, panel = panel_window
    panel.trials.setValue(60)
    assert panel.start()
    qtbot.waitUntil(lambda: bool(panel.records), timeout=60_000)
    assert win.close()
    assert not win.threads.busy() and not win.threads.running


def test_marking_a_value_takes_the_hint_away_and_undo_brings_it_back(make_window, tmp_path):
    from workbench.ui.search_edit import SetSearchSpace
    win = make_window()
    project = iris_project(tmp_path)
    project.path = tmp_path / "iris.wbproj"
    project.extra.pop("search", None)       # the example ships with a space of its own
    win.set_document(Document(project))
    panel, doc = win.panels["experiments"], win.document
    assert panel.hint.text() == NO_SPACE and not panel.start_button.isEnabled()
    doc.push(SetSearchSpace(doc, ss.from_dict(dict(SPACE, trials=9))))
    assert panel.hint.isHidden() and panel.start_button.isEnabled()
    assert panel.trials.value() == 9 and panel.model.names == ["lr", "width", "depth"]
    doc.undo_stack.undo()
    assert panel.hint.text() == NO_SPACE and not panel.start_button.isEnabled()
