"""The layout of big imported graphs: bands of columns, branches beside the main chain, no
overlaps (core/layout.py `compact`)."""
from __future__ import annotations

import torch
from torch import nn

from workbench.core.graph import Graph
from workbench.core.layout import COLUMN, PER_ROW, ROW, compact, layered
from workbench.importers.torch_import import import_nn

NODE = (130.0, 110.0)  # the size the canvas draws a node at, at most


def _overlaps(positions, graph):
    """Pairs of nodes whose boxes intersect; a node with eight input ports (an Add) is drawn
    one row taller."""
    def box(nid):
        x, y = positions[nid]
        tall = len(graph.nodes[nid].spec.inputs) > 4
        return x, y, x + NODE[0], y + NODE[1] + (ROW if tall else 0)
    ids = list(positions)
    hits = []
    for i, a in enumerate(ids):
        ax0, ay0, ax1, ay1 = box(a)
        for b in ids[i + 1:]:
            bx0, by0, bx1, by1 = box(b)
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
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
    assert _overlaps(positions, graph) == []
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
    assert _overlaps(pos, g) == []


def test_a_downsampling_shortcut_runs_below_the_chain_and_the_merge_stays_on_it():
    class Down(nn.Module):
        def __init__(self):
            super().__init__()
            self.shortcut = nn.Sequential(nn.Conv2d(3, 8, 1, 2), nn.BatchNorm2d(8))
            self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(8, 8, 3, 1, 1)
            self.head = nn.Conv2d(8, 4, 1)

        def forward(self, x):
            side = self.shortcut(x)                 # computed first, yet a branch
            return self.head(self.conv2(self.relu(self.conv1(x))) + side)

    result = import_nn(Down(), (3, 8, 8))
    graph = result.project.graph
    pos = {nid: n.pos for nid, n in graph.nodes.items()}
    rows = {n.title: n.pos[1] / ROW for n in graph.nodes.values()}
    assert [rows[t] for t in ("x", "conv1", "relu", "conv2", "add", "head", "out")] == [0] * 7
    assert rows["shortcut_0"] == rows["shortcut_1"] == 1
    assert _overlaps(pos, graph) == []
