"""Layered left-to-right layout: each node's column is its longest path from a source.

Pure function over the graph so that the app's auto-layout is one undoable command and
templates get tidy positions without a UI.
"""
from __future__ import annotations

from workbench.core.graph import Graph

COLUMN, ROW = 280.0, 130.0  # room for the shape label on each edge


def layered(graph: Graph) -> dict[str, tuple[float, float]]:
    order = graph.topological_order()
    column: dict[str, int] = {}
    for nid in order:
        column[nid] = max((column[e.src] + 1 for e in graph.edges_into(nid)), default=0)
    # Targets sit in the column before the loss they feed, not at the far left.
    for nid in reversed(order):
        outs = graph.edges_from(nid)
        if not graph.edges_into(nid) and outs:
            column[nid] = max(column[nid], min(column[e.dst] for e in outs) - 1)
    rows: dict[int, int] = {}
    positions = {}
    for nid in order:
        c = column[nid]
        r = rows.get(c, 0)
        rows[c] = r + 1
        positions[nid] = (c * COLUMN, r * ROW)
    return positions
