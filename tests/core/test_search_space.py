"""The project's search space: read strictly, written only when present, and applied to a
copy of the project as plain graph edits."""
from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from workbench.core import project as project_file
from workbench.core import search_space as ss

IRIS = EXAMPLES / "iris-classifier" / "project.wbproj"


def iris():
    """The iris example without the search space it ships with."""
    project = project_file.load(IRIS)
    project.extra.pop("search", None)
    return project


def chain(graph, start: str) -> list[str]:
    """Node types on the path from `start` to the Output, walked back from the Output."""
    nid = next(n.id for n in graph.nodes.values() if n.type == "Output")
    out = []
    while True:
        out.append(graph.nodes[nid].type)
        if nid == start:
            return out[::-1]
        nid = graph.edges_into(nid)[0].src


def test_a_v1_file_saves_byte_identical_and_a_search_makes_it_v2(tmp_path):
    raw = project_file.save(iris(), tmp_path / "v1.wbproj").read_bytes()
    assert b'"format_version": 1' in raw
    project = project_file.load(tmp_path / "v1.wbproj")
    assert project.to_json().encode() == raw    # no search: still a version 1 file
    ss.store(project, ss.from_dict({"space": [
        {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1, "log": True}]}))
    path = project_file.save(project, tmp_path / "p.wbproj")
    doc = path.read_text()
    assert '"format_version": 2' in doc
    again = project_file.load(path)
    assert ss.of(again).to_dict() == {"objective": "val_loss", "sampler": "tpe", "pruner": "median",
                                      "trials": 20, "space": [{"name": "lr", "kind": "float",
                                      "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1, "log": True}]}
    ss.store(again, ss.SearchSpace())      # no search left: an old Workbench can open it again
    assert '"format_version": 1' in again.to_json() and '"search"' not in again.to_json()


@pytest.mark.parametrize("search, message", [
    ({"space": [{"kind": "float", "name": "a", "node": "n2", "param": "x", "low": 2, "high": 1}]},
     "search.space[0].low: low 2 is above high 1"),
    ({"space": [{"kind": "float", "name": "a", "node": "n2", "param": "x", "low": 0, "high": 1, "log": True}]},
     "search.space[0].low: a log scale needs low > 0"),
    ({"space": [{"kind": "spline", "name": "a"}]},
     "search.space[0].kind: expected one of float, int, choice, type, repeat, branch, got 'spline'"),
    ({"space": [{"kind": "int", "name": "a", "setting": "seed", "low": 0, "high": 9}]},
     "search.space[0].setting: a search can vary epochs, batch_size, grad_clip, early_stopping.patience, "
     "early_stopping.min_delta; not 'seed'"),
    ({"space": [{"kind": "repeat", "name": "r", "nodes": ["n4"], "low": 0, "high": 99}]},
     "search.space[0].high: a chain repeats 0 to 32 times"),
    ({"space": [{"kind": "choice", "name": "a", "node": "n2", "param": "x", "choices": [1, 1]}]},
     "search.space[0].choices: a choice is listed twice"),
    ({"sampler": "grid", "space": []}, "search.sampler: expected one of tpe, random, nsga2, qmc, got 'grid'"),
    ({"objective": "accuracy", "space": []}, "search.objective: expected val_loss or val_<metric>, got 'accuracy'"),
])
def test_a_bad_search_space_is_named_when_the_file_loads(tmp_path, search, message):
    doc = json.loads(IRIS.read_text())
    doc["search"] = search
    path = tmp_path / "bad.wbproj"
    path.write_text(json.dumps(doc))
    with pytest.raises(project_file.ProjectError) as err:
        project_file.load(path)
    assert str(err.value) == f"{path}: {message}"


def test_the_shipped_iris_search_fits_its_graph():
    project = project_file.load(IRIS)
    space = ss.of(project)
    assert [d.name for d in space.space] == ["lr", "width", "blocks", "batch"]
    assert ss.problems(space, project.graph) == []
    assert ss.current(space, project) == {"lr": 0.003, "width": 64, "blocks": 1, "batch": 16}


def test_problems_name_what_no_longer_fits_the_graph():
    project = iris()
    space = ss.from_dict({"space": [
        {"name": "gone", "kind": "int", "node": "n99", "param": "out_features", "low": 1, "high": 4},
        {"name": "units", "kind": "float", "node": "n2", "param": "out_features", "low": 1, "high": 4},
        {"name": "neg", "kind": "int", "node": "n2", "param": "out_features", "low": -1, "high": 4},
        {"name": "opt", "kind": "type", "node": "n10", "choices": ["SGD", "ReLU"]},
        {"name": "loop", "kind": "repeat", "nodes": ["n2", "n4"], "low": 0, "high": 2},
        {"name": "ok", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1},
    ]})
    found = ss.problems(space, project.graph)
    assert found[0] == "search 'gone': node n99 is not in the graph"
    assert found[1] == "search 'units': 'out_features' is a whole number: use an int range"
    assert found[2].startswith("search 'neg': ")
    assert found[3] == "search 'opt': ReLU cannot replace Adam 'adam': another kind of node"
    assert found[4] == "search 'loop': 'fc1' → 'fc2' is not a plain link of a chain"
    assert len(found) == 5


def test_apply_sets_values_on_a_copy_and_leaves_the_project_alone():
    project = iris()
    before = project.to_dict()
    space = ss.from_dict({"space": [
        {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1},
        {"name": "bs", "kind": "int", "setting": "batch_size", "low": 8, "high": 64},
        {"name": "patience", "kind": "int", "setting": "early_stopping.patience", "low": 1, "high": 9},
        {"name": "opt", "kind": "type", "node": "n10", "choices": ["Adam", "SGD"]},
    ]})
    out = ss.apply(project, space, {"lr": 0.05, "bs": 32, "patience": 4, "opt": "SGD"})
    assert project.to_dict() == before
    sgd = out.graph.nodes["n10"]
    assert (sgd.type, sgd.title, sgd.params["lr"]) == ("SGD", "adam", 0.05)
    assert out.graph.edges_into("n10")[0].src == "n9"
    assert out.training["batch_size"] == 32 and out.training["early_stopping"]["patience"] == 4


def test_the_baseline_is_the_project_as_drawn_or_none_outside_the_ranges():
    project = iris()
    space = ss.from_dict({"space": [
        {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1},
        {"name": "bs", "kind": "int", "setting": "batch_size", "low": 8, "high": 64},
        {"name": "depth", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 3}]})
    assert ss.current(space, project) == {"lr": 0.003, "bs": 16, "depth": 1}
    narrow = ss.from_dict({"space": [{"name": "bs", "kind": "int", "setting": "batch_size", "low": 32, "high": 64}]})
    assert ss.current(narrow, project) is None


@pytest.mark.parametrize("times, types", [
    (0, ["Input", "Linear", "ReLU", "Linear", "Output"]),
    (1, ["Input", "Linear", "ReLU", "Linear", "ReLU", "Linear", "Output"]),
    (3, ["Input", "Linear", "ReLU"] + ["Linear", "ReLU"] * 3 + ["Linear", "Output"]),
])
def test_repeat_uses_a_chain_n_times_in_series(times, types):
    project = iris()
    space = ss.from_dict({"space": [{"name": "d", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 3}]})
    out = ss.apply(project, space, {"d": times})
    assert chain(out.graph, "n1") == types
    copies = [n for n in out.graph.nodes.values() if n.title.startswith("fc2")]
    assert all(n.params["out_features"] == 64 for n in copies)
    assert len({n.title for n in out.graph.nodes.values()}) == len(out.graph.nodes)   # titles stay unique


def test_branch_moves_the_rest_of_the_graph_onto_the_chosen_alternative():
    project = iris()
    g = project.graph
    alt = g.make_node("Tanh", "tanh1", {}, (0.0, 0.0))
    g.insert_node(alt)
    g.connect("n2", "out", alt.id, "in")       # relu1 | tanh1, both fed by fc1; relu1 is in use
    space = ss.from_dict({"space": [{"name": "act", "kind": "branch", "options": [["n3"], [alt.id]]}]})
    assert ss.problems(space, g) == []
    assert ss.current(space, project) == {"act": 0}
    out = ss.apply(project, space, {"act": 1})
    assert chain(out.graph, "n1") == ["Input", "Linear", "Tanh", "Linear", "ReLU", "Linear", "Output"]
    assert out.graph.edges_from("n3") == []   # parked, not deleted
    assert ss.describe(space.space[0], 1, project.graph) == "tanh1"
