"""Validation: each kind of broken graph gives its message on the node that causes it."""
from __future__ import annotations

import pytest

from workbench.core import CycleError, Graph, GraphError, ParamError, PortMismatch, PortOccupied, analyse
from workbench.core.graph import Edge

from tests.core.helpers import chain, classifier


def test_valid_classifier_counts_parameters():
    g, n = classifier(("Linear", {"out_features": 16}), "ReLU", ("Linear", {"out_features": 3}))
    a = analyse(g)
    assert a.valid, a.problems
    assert a.total_params == (4 * 16 + 16) + (16 * 3 + 3)
    assert a.summary() == "valid · 131 parameters"
    assert a.output_type(n["linear"].id).shape == ("batch", 16)
    assert analyse(g).inputs[n["linear1"].id]["in"].shape == ("batch", 16)
    spare = g.add_node("ReLU")                              # its output goes nowhere: a warning
    g.connect(n["linear"].id, "out", spare.id, "in")
    assert analyse(g).summary() == "valid · 131 parameters · 1 warning"
    g.add_node("Linear")                                    # input not connected: an error
    assert analyse(g).summary() == "1 problem · 2 warnings"


def test_in_features_follow_upstream_changes():
    g, n = classifier(("Linear", {"out_features": 16}), ("Linear", {"out_features": 3}))
    g.set_param(n["input"].id, "shape", "10")
    a = analyse(g)
    assert a.params[n["linear"].id] == 10 * 16 + 16


def test_linear_after_conv_asks_for_flatten():
    g, n = classifier(("Conv2d", {"out_channels": 16}), ("Linear", {"out_features": 3}),
                      input_shape="1,8,8")
    g.set_title(n["linear"].id, "fc2")
    problems = analyse(g).problems_of(n["linear"].id)
    assert [p.message for p in problems] == [
        "Linear 'fc2' expects a 2-D input (batch, features) or a 3-D sequence (batch, steps, "
        "features), gets (batch, 16, 8, 8): add Flatten"]


def test_unconnected_input_is_reported_on_the_node():
    g = Graph()
    lin = g.add_node("Linear", "fc1")
    problems = analyse(g).problems_of(lin.id)
    assert "Linear 'fc1': input 'in' is not connected" in [p.message for p in problems]


def test_missing_loss_is_reported_on_the_output():
    g = Graph()
    _, _, out = chain(g, ("Input", {"shape": "4"}), ("Linear", {"out_features": 2}), "Output")
    messages = [p.message for p in analyse(g).problems_of(out.id)]
    assert messages == ["Output 'output' is not connected to a loss: add a loss (e.g. CrossEntropy "
                        "or MSE) to train the model"]


def test_missing_optimizer_is_reported_on_the_loss():
    g, n = classifier(("Linear", {"out_features": 3}))
    g.remove_node(n["optimizer"].id)
    messages = [p.message for p in analyse(g).problems_of(n["loss"].id)]
    assert messages == ["CrossEntropy 'loss' has no optimizer: connect it to one (e.g. Adam)"]


def test_cross_entropy_against_float_target():
    g, n = classifier(("Linear", {"out_features": 3}))
    g.set_param(n["target"].id, "dtype", "float32")
    messages = [p.message for p in analyse(g).problems_of(n["loss"].id)]
    assert messages == ["CrossEntropy 'loss' needs class ids (int64) as target, gets float32 values "
                        "(batch): use MSE for a numeric target, or make the target column categorical"]


def test_class_count_mismatch_names_the_fix():
    g, n = classifier(("Linear", {"out_features": 4}), classes=3)
    messages = [p.message for p in analyse(g).problems_of(n["loss"].id)]
    assert messages == ["CrossEntropy 'loss' predicts 4 classes but the target has 3: set the last "
                        "layer's size to 3"]


def test_graph_refuses_a_cycle_and_reports_one_loaded_from_file():
    g = Graph()
    a, b = chain(g, "ReLU", "Tanh")
    with pytest.raises(CycleError, match="would make a cycle"):
        g.connect(b.id, "out", a.id, "in")
    g.edges.append(Edge(b.id, "out", a.id, "in"))  # as a hand-edited file could hold it
    analysis = analyse(g)
    assert {p.node_id for p in analysis.problems} == {a.id, b.id}
    assert all("cycle through" in p.message for p in analysis.problems)


def test_graph_refuses_occupied_input_and_port_kind_mismatch():
    g = Graph()
    i1 = g.add_node("Input")
    i2 = g.add_node("Input", params={"name": "x2"})
    lin = g.add_node("Linear")
    g.connect(i1.id, "out", lin.id, "in")
    with pytest.raises(PortOccupied, match="already connected to 'input'"):
        g.connect(i2.id, "out", lin.id, "in")
    loss = g.add_node("MSE")
    with pytest.raises(PortMismatch, match="output .loss. gives a loss, input .in. takes a tensor"):
        g.connect(loss.id, "loss", g.add_node("Linear").id, "in")
    assert len(g.edges) == 1


def test_optimizer_accepts_several_losses():
    g = Graph()
    opt = g.add_node("Adam")
    l1, l2 = g.add_node("MSE"), g.add_node("L1")
    g.connect(l1.id, "loss", opt.id, "loss")
    g.connect(l2.id, "loss", opt.id, "loss")
    assert len(g.edges_into(opt.id)) == 2


def test_set_param_validates_and_notifies():
    g = Graph()
    lin = g.add_node("Linear")
    events = []
    g.subscribe(events.append)
    with pytest.raises(ParamError, match="at least 1"):
        g.set_param(lin.id, "out_features", 0)
    assert lin.params["out_features"] == 64 and not events
    old = g.set_param(lin.id, "out_features", 8)
    assert old == 64 and [e.kind for e in events] == ["param_changed"]
    with pytest.raises(GraphError):
        g.set_title(g.add_node("ReLU").id, lin.title)


def test_remove_and_reinsert_restores_the_exact_graph():
    g, n = classifier(("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 3}))
    before = g.to_dict()
    node, edges = g.remove_node(n["relu"].id)
    assert len(g.edges) == len(before["edges"]) - 2
    g.insert_node(node, edges)
    assert sorted(map(str, g.to_dict()["edges"])) == sorted(map(str, before["edges"]))
