"""Two real iris runs that differ in learning rate and first-layer width, compared: the
settings rows that differ, the architecture diff, the curves read back from metrics.jsonl."""
import json

import pytest

from tests.iris_runs import iris_project, train
from workbench.core import project as project_file
from workbench.train import compare, runs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris_compare")
    project = iris_project(folder)
    a = train(project, folder / "runs" / "a", lr=0.003)
    b = train(project, folder / "runs" / "b", lr=0.01, units=32, epochs=3)
    return a, b


def _projects(*folders):
    return [project_file.load(f / "project.wbproj") for f in folders]


def test_settings_diff_flags_exactly_what_was_changed(two_runs):
    rows = compare.settings_diff(_projects(*two_runs))
    differing = {r.key: r.values for r in rows if r.differs}
    assert differing == {"training.epochs": (2, 3), "Adam · lr": (0.003, 0.01),
                         "Linear 'fc1' · out_features": (64, 32)}
    by_key = {r.key: r for r in rows}
    assert by_key["data.split.seed"].values == (0, 0) and not by_key["data.split.seed"].differs
    assert by_key["training.device"].values == ("cpu", "cpu")
    # the runs' copies name the data relative to themselves; compared as the same file
    assert by_key["data.path"].values[0].endswith("iris.csv") and not by_key["data.path"].differs
    keys = [r.key for r in rows]
    assert keys.index("training.epochs") < keys.index("data.split.seed") < keys.index("Adam · lr") \
        < keys.index("Linear 'fc1' · out_features")


def test_a_node_only_one_project_has_gets_a_dash(two_runs):
    a, b = _projects(*two_runs)
    b.graph.add_node("Dropout", "drop", {"p": 0.2})
    rows = {r.key: r for r in compare.settings_diff([a, b])}
    assert rows["Dropout 'drop' · p"].values == (None, 0.2) and rows["Dropout 'drop' · p"].differs
    assert [compare.show(v) for v in rows["Dropout 'drop' · p"].values] == ["—", "0.2"]


def test_architecture_diff_of_the_two_runs(two_runs):
    a, b = _projects(*two_runs)
    diff = compare.architecture_diff(a, b)
    assert [(c.node.label, c.param, c.old, c.new) for c in diff.changed] == [
        ("Linear 'fc1'", "out_features", 64, 32), ("Adam 'adam'", "lr", 0.003, 0.01)]
    assert not (diff.added or diff.removed or diff.edges_added or diff.edges_removed)
    assert compare.describe(diff) == ["Linear 'fc1': out_features 64 → 32",
                                      "Adam 'adam': lr 0.003 → 0.01"]
    assert compare.describe(compare.architecture_diff(a, a)) == ["same architecture"]


def test_nodes_added_removed_renamed_and_rewired(two_runs):
    a, _ = _projects(*two_runs)
    b = a.copy()
    g = b.graph
    relu2, head = g.by_title("relu2"), g.by_title("head")
    g.disconnect(g.source_of(head.id, "in"))
    drop = g.add_node("Dropout", "drop", {"p": 0.1})
    g.connect(relu2.id, "out", drop.id, "in")
    g.connect(drop.id, "out", head.id, "in")
    g.set_title(g.by_title("fc2").id, "wide")
    diff = compare.architecture_diff(a, b)
    assert [n.label for n in diff.added] == ["Dropout 'drop'"] and diff.removed == []
    assert compare.describe(diff) == [
        "added Dropout 'drop'", "renamed Linear 'fc2' to 'wide'",
        "connected relu2.out → drop.in", "connected drop.out → head.in",
        "disconnected relu2.out → head.in"]
    # the other way round, it is a removal
    back = compare.architecture_diff(b, a)
    assert [n.label for n in back.removed] == ["Dropout 'drop'"]


def test_nodes_made_separately_are_matched_by_type_and_title(two_runs):
    a, _ = _projects(*two_runs)
    doc = a.to_dict()
    renumber = {n["id"]: f"x{i}" for i, n in enumerate(doc["graph"]["nodes"])}
    for n in doc["graph"]["nodes"]:
        n["id"] = renumber[n["id"]]
    for e in doc["graph"]["edges"]:
        e["from"][0], e["to"][0] = renumber[e["from"][0]], renumber[e["to"][0]]
    other = project_file.from_dict(json.loads(json.dumps(doc)))
    assert compare.describe(compare.architecture_diff(a, other)) == ["same architecture"]


def test_curves_come_from_the_epoch_events(two_runs):
    a, b = two_runs
    record = runs.read_run(b, events=True)
    got = compare.curves(record)
    epochs = record.epochs
    assert got["loss"] == [(e["epoch"], e["train_loss"]) for e in epochs]
    assert got["val_loss"] == [(e["epoch"], e["val_loss"]) for e in epochs]
    assert got["val_accuracy"] == [(e["epoch"], e["metrics"]["val"]["accuracy"]) for e in epochs]
    assert [x for x, _ in got["val_loss"]] == [1, 2, 3]
    assert got["lr"] == [(1, 0.01), (2, 0.01), (3, 0.01)]
    assert "val_per_class" not in got and "val_confusion_matrix" not in got
    assert len(compare.curves(runs.read_run(a, events=True))["val_loss"]) == 2


def test_curves_skip_broken_values(tmp_path):
    lines = [{"kind": "epoch", "epoch": 1, "step": 1, "train_loss": 1.0, "val_loss": None},
             {"kind": "epoch", "epoch": 2, "step": 2, "train_loss": "x", "val_loss": 0.5,
              "metrics": {"val": {"accuracy": True, "r2": 0.25}}}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert compare.curves(runs.read_run(tmp_path, events=True)) == {
        "loss": [(1, 1.0)], "val_loss": [(2, 0.5)], "val_r2": [(2, 0.25)]}


def test_run_names(tmp_path):
    assert compare.run_name(tmp_path / "runs" / "20261203-101500") == "20261203-101500"
    assert compare.run_name(tmp_path / "runs" / "search-lr" / "trial-3") == "search-lr / trial 3"
    assert compare.run_name(tmp_path / "runs" / "other" / "trial-3") == "trial-3"
