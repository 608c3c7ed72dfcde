"""The layout of big imported graphs: bands of columns, branches beside the main chain, no
overlaps (core/layout.py `compact`)."""
from __future__ import annotations

import torch
from torch import nn

from workbench.core.graph import Graph
from workbench.core.layout import COLUMN, PER_ROW, ROW, compact, layered
from workbench.importers.torch_import import import_nn

NODE = (130.0, 110.0)  # the size the canvas draws a node at, at most


def _overlaps(positions):
    boxes = list(positions.items())
    hits = []
    for i, (a, (ax, ay)) in enumerate(boxes):
        for b, (bx, by) in boxes[i + 1:]:
            if abs(ax - bx) < NODE[0] and abs(ay - by) < NODE[1]:
                hits.append((a, b))
    return hits


class Deep(nn.Module):
    """40 residual blocks: 120+ nodes, a main chain with a shortcut beside each block."""

    def __init__(self, blocks=40):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(blocks))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x) + x
        return self.head(x)


def test_a_deep_import_wraps_into_bands_without_overlaps():
    torch.manual_seed(11)
    result = import_nn(Deep(), (8,), name="deep")
    graph = result.project.graph
    assert len(graph.nodes) == 123 and result.ok()
    positions = {nid: n.pos for nid, n in graph.nodes.items()}
    assert _overlaps(positions) == []
    xs = {x for x, _ in positions.values()}
    assert max(xs) == (PER_ROW - 1) * COLUMN                 # wrapped, not 80 columns wide
    # the main chain reads like text: 123 columns in bands of PER_ROW, each Add on its band's
    # line, in chain order left to right, then the next band below
    adds = [graph.nodes[n].pos for n in graph.topological_order() if graph.nodes[n].type == "Add"]
    keys = [(y, x) for x, y in adds]
    assert keys == sorted(keys) and len(set(keys)) == 40
    assert len({y for _, y in adds}) == -(-123 // PER_ROW)


def test_a_branch_runs_beside_the_chain_on_its_own_line():
    g = Graph()
    x = g.add_node("Input", "x", {"shape": "4"})
    a = g.add_node("Linear", "a")
    b = g.add_node("Linear", "b")
    side = g.add_node("Linear", "side")
    side2 = g.add_node("ReLU", "side2")
    add = g.add_node("Add", "add")
    for s, d, port in [(x, a, "in"), (a, b, "in"), (x, side, "in"), (side, side2, "in"),
                       (b, add, "a"), (side2, add, "b")]:
        g.connect(s.id, "out", d.id, port)
    pos = compact(g)
    assert [pos[n.id][1] for n in (x, a, b, add)] == [0.0] * 4
    assert pos[side.id][1] == pos[side2.id][1] == ROW
    assert [p[0] for p in (pos[x.id], pos[a.id], pos[b.id], pos[add.id])] == [0, COLUMN, 2 * COLUMN, 3 * COLUMN]
    assert {p[0] for p in layered(g).values()} == {p[0] for p in pos.values()}
    assert _overlaps(pos) == []
