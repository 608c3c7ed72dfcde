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


def wrapped(positions: dict[str, tuple[float, float]], width: float, height: float,
            node_size: tuple[float, float] = (130.0, 110.0), gap: float = ROW
            ) -> dict[str, tuple[float, float]]:
    """A long left-to-right layout folded into bands of columns (left to right, then the next
    band below), so it fits a `width`×`height` window at the largest scale: a chain of ten
    layers reads at a useful zoom instead of a strip at 40 %. Positions of `layered`."""
    if not positions:
        return positions
    xs = sorted({x for x, _ in positions.values()})
    top = min(y for _, y in positions.values())
    band_h = max(y for _, y in positions.values()) - top + node_size[1]

    def scale(k: int) -> float:
        bands = -(-len(xs) // k)
        w = (k - 1) * COLUMN + node_size[0]
        h = bands * band_h + (bands - 1) * gap
        return min(width / w, height / h)

    k = max(range(1, len(xs) + 1), key=lambda k: (scale(k), k))
    column = {x: i for i, x in enumerate(xs)}
    return {nid: ((column[x] % k) * COLUMN, (column[x] // k) * (band_h + gap) + y - top)
            for nid, (x, y) in positions.items()}
