"""Layered left-to-right layout: each node's column is its longest path from a source.

Pure function over the graph so that the app's auto-layout is one undoable command and
templates get tidy positions without a UI.
"""
from __future__ import annotations

from workbench.core.graph import Graph

COLUMN, ROW = 280.0, 130.0  # room for the shape label on each edge


def _columns(graph: Graph, order: list[str]) -> dict[str, int]:
    column: dict[str, int] = {}
    for nid in order:
        column[nid] = max((column[e.src] + 1 for e in graph.edges_into(nid)), default=0)
    # Targets sit in the column before the loss they feed, not at the far left.
    for nid in reversed(order):
        outs = graph.edges_from(nid)
        if not graph.edges_into(nid) and outs:
            column[nid] = max(column[nid], min(column[e.dst] for e in outs) - 1)
    return column


def layered(graph: Graph) -> dict[str, tuple[float, float]]:
    order = graph.topological_order()
    column = _columns(graph, order)
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


PER_ROW = 10  # columns per band of `compact`: about two screens wide at 100 %


def compact(graph: Graph, per_row: int = PER_ROW) -> dict[str, tuple[float, float]]:
    """`layered` for big graphs (an imported ResNet has hundreds of nodes): the columns wrap
    into bands of `per_row`, left to right then the next band below, so the main chain reads
    like lines of text instead of a strip a hundred columns long. In each column the nodes with
    the longest way still to go (the main chain) are placed first, each on the row of its
    source when free (a merge: of its latest source), else the nearest free one: the chain
    stays on the band's top line and a branch (a downsampling shortcut, a second head) runs
    beside it on its own line. Each node has its own cells (an 8-input merge two rows) and
    bands are as tall as their tallest column, so no two nodes overlap. A graph of at most
    `per_row` columns gets the same columns as `layered`."""
    order = graph.topological_order()
    if not order:
        return {}
    column = _columns(graph, order)
    index = {nid: i for i, nid in enumerate(order)}
    remaining: dict[str, int] = {}      # the longest path on to an end: the main chain's is longest
    for nid in reversed(order):
        remaining[nid] = max((remaining[e.dst] + 1 for e in graph.edges_from(nid)), default=0)
    row: dict[str, int] = {}
    taken: dict[int, set[int]] = {}
    for nid in sorted(order, key=lambda n: (column[n], -remaining[n], index[n])):
        rows = _rows_tall(graph, nid)
        sources = [e.src for e in graph.edges_into(nid)]
        # a merge continues the line of its latest source (the chain, not the shortcut)
        want = row[max(sources, key=lambda s: (column[s], -row[s]))] if sources else 0
        used = taken.setdefault(column[nid], set())

        def fits(r: int) -> bool:
            return r >= 0 and not any(k in used for k in range(r, r + rows))
        r = next(r for d in range(len(order) + 1) for r in (want + d, want - d) if fits(r))
        used.update(range(r, r + rows))
        row[nid] = r
    bands: dict[int, int] = {}
    for nid in order:
        band = column[nid] // per_row
        bands[band] = max(bands.get(band, 0), row[nid] + _rows_tall(graph, nid))
    top, y = {}, 0.0
    for band in sorted(bands):
        top[band] = y
        y += bands[band] * ROW + ROW        # one empty row between bands for the wrap edges
    return {nid: ((column[nid] % per_row) * COLUMN, top[column[nid] // per_row] + row[nid] * ROW)
            for nid in order}


def _rows_tall(graph: Graph, nid: str) -> int:
    """Cells a node needs: a merge showing eight input ports is two rows tall."""
    spec = graph.nodes[nid].spec
    return 2 if spec is not None and len(spec.inputs) > 4 else 1
