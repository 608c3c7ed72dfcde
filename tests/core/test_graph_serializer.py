"""Issue 14.4: one serializer. Graph.to_dict / Graph.from_dict are used by project save and
load and by the clipboard, so a paste keeps what a load keeps (unknown parameters), and ids
come from one rule."""
from __future__ import annotations

import json

import pytest

from tests.core.helpers import classifier
from workbench.core import clipboard
from workbench.core.graph import Graph, GraphFormatError
from workbench.core.project import Project, loads


def test_from_dict_inverts_to_dict():
    g, _ = classifier(("Linear", {"out_features": 8}), "ReLU", ("Linear", {"out_features": 3}))
    g.move_node(next(iter(g.nodes)), (12.5, -3))
    again = Graph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert again.same_as(g) and again.to_dict() == g.to_dict()
    # project files go through the same function
    assert loads(Project(g).to_json()).graph.to_dict() == g.to_dict()


def test_to_dict_of_some_nodes_keeps_only_the_edges_between_them():
    g, n = classifier(("Linear", {"out_features": 8}), "ReLU")
    part = g.to_dict(node_ids=[n["linear"].id, n["relu"].id, n["optimizer"].id])
    assert [d["title"] for d in part["nodes"]] == ["linear", "relu", "optimizer"]
    assert part["edges"] == [{"from": [n["linear"].id, "out"], "to": [n["relu"].id, "in"]}]


def test_fresh_ids_titles_and_offset_against_a_target_graph():
    g, n = classifier(("Linear", {"out_features": 8}))
    doc = g.to_dict(node_ids=[n["linear"].id, n["output"].id])
    pasted = Graph.from_dict(doc, fresh_ids=True, offset=(30.0, 40.0), avoid=g)
    assert not set(pasted.nodes) & set(g.nodes)
    assert sorted(pasted.nodes) == [g.new_id(), f"n{int(g.new_id()[1:]) + 1}"]
    assert [p.title for p in pasted.nodes.values()] == ["linear1", "output1"]
    first = next(iter(pasted.nodes.values()))
    assert first.pos == (n["linear"].pos[0] + 30.0, n["linear"].pos[1] + 40.0)
    (edge,) = pasted.edges
    assert (pasted.nodes[edge.src].title, pasted.nodes[edge.dst].title) == ("linear1", "output1")


def test_paste_keeps_parameters_this_version_does_not_know_as_load_does():
    g, n = classifier(("Linear", {"out_features": 8}))
    selection = clipboard.copy_selection(g, [n["linear"].id])
    selection["nodes"][0]["params"]["from_the_future"] = [1, 2]
    text = clipboard.to_json(selection)
    nodes, _ = clipboard.prepare_paste(g, clipboard.from_json(text))
    assert nodes[0].params["from_the_future"] == [1, 2]
    assert nodes[0].params["out_features"] == 8
    doc = {"format_version": 1, "graph": {"nodes": selection["nodes"]}}
    assert loads(json.dumps(doc)).graph.nodes[n["linear"].id].params["from_the_future"] == [1, 2]


def test_paste_errors_stay_words():
    g, n = classifier()
    selection = clipboard.copy_selection(g, [n["output"].id])
    selection["nodes"][0]["type"] = "NoSuchLayer"
    with pytest.raises(clipboard.ClipboardError, match="unknown node type 'NoSuchLayer'"):
        clipboard.prepare_paste(g, selection)
    selection["nodes"][0].update(type="Linear", params={"out_features": "ten"})
    with pytest.raises(clipboard.ClipboardError,
                       match=r"damaged \(nodes\[0\] \('output'\)\.params: 'out_features' must be"):
        clipboard.prepare_paste(g, selection)
    with pytest.raises(GraphFormatError, match=r"^nodes\[0\]\.id: expected text, got 5$"):
        Graph.from_dict({"nodes": [{"id": 5}]})
