"""The Experiments panel's charts, drawn from plain TrialRecords (no Optuna here).

Each `draw_*` clears its plot and draws it whole: a search adds a trial every few seconds at
most, so redrawing a few hundred items per finished trial is cheaper than keeping them in step.
Parallel coordinates put every searched value on a 0..1 axis: a numeric one across its range
(log-scaled when searched on a log scale), a categorical one (choice, node type, branch) with
its options spread evenly; the objective is the last axis, and each complete trial is one
polyline coloured by its objective (bright = better).
"""
from __future__ import annotations

import math

import PySide6  # noqa: F401  (pyqtgraph must pick this binding)
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPen

from workbench.core import search_space as ss
from workbench.ui import charts

WORSE = QColor("#9fb7d6")
FRONT = "#e8590c"
# worse → better: pale blue, magenta, orange (a two-colour blend went muddy brown midway)
GRADIENT = pg.ColorMap([0.0, 0.5, 1.0], [(159, 183, 214), (192, 79, 176), (232, 89, 12)])


def _pen(colour: QColor | str, width: float = 1.4) -> QPen:
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    return pen


def _mix(t: float) -> QColor:
    return GRADIENT.map(min(1.0, max(0.0, t)), mode="qcolor")


def _text(plot: pg.PlotItem, text: str, x: float, y: float, anchor=(0.5, 0.5), size: str = "8pt"):
    """A label over the data (a backing in the plot's colour, so a line under it does not
    hide it)."""
    bg, fg, _ = charts.colours()
    back = QColor(bg)
    back.setAlpha(190)
    item = pg.TextItem(html=f"<span style='font-size:{size}; color:{fg}'>{_escape(text)}</span>",
                       anchor=anchor, fill=back)
    item.setZValue(20)
    item.setPos(x, y)
    plot.addItem(item)
    return item


def _escape(text: str) -> str:
    import html
    return html.escape(str(text))


def complete(records) -> list:
    return [r for r in records if r.state == "complete" and r.values]


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _empty(widget: pg.PlotWidget, note: str) -> pg.PlotItem:
    plot = widget.getPlotItem()
    plot.clear()
    for name in ("bottom", "left"):
        plot.getAxis(name).setTicks(None)
        plot.getAxis(name).setTickSpacing()
    charts.show_empty(widget)
    if note:
        _text(plot, note, 0.5, 0.5)
    return plot


# -- best so far ----------------------------------------------------------------------------

def draw_best(widget: pg.PlotWidget, records, maximize: bool) -> None:
    """The objective of each complete trial as a dot, and the best so far as a line."""
    done = [r for r in complete(records) if _finite(r.values[0])]
    if not done:
        _empty(widget, "the best so far shows here once a trial completes")
        return
    plot = widget.getPlotItem()
    plot.clear()
    xs = [r.number for r in done]
    ys = [r.values[0] for r in done]
    steps_x, steps_y, best = [], [], None     # a staircase: the best only moves on a better trial
    for x, y in zip(xs, ys):
        if best is not None:
            steps_x.append(x)
            steps_y.append(best)
        best = y if best is None else (max(best, y) if maximize else min(best, y))
        steps_x.append(x)
        steps_y.append(best)
    plot.plot(steps_x, steps_y, pen=_pen(charts.SERIES["val"], 1.8))
    plot.plot(xs, ys, pen=None, symbol="o", symbolSize=7, symbolPen=None,
              symbolBrush=QColor(charts.SERIES["train"]))
    step = max(1, math.ceil((max(xs) - min(xs) + 1) / 10))
    plot.getAxis("bottom").setTickSpacing(step, step)     # whole trials, not 0.5
    plot.enableAutoRange()


# -- parallel coordinates -------------------------------------------------------------------

def position(d: ss.Dim | None, value, seen: list) -> float | None:
    """Where `value` sits on its axis, 0..1 (None: not a value this axis can place)."""
    if d is not None and d.kind in ("choice", "type"):
        options = list(d.choices)
    elif d is not None and d.kind == "branch":
        options = list(range(len(d.options)))
    elif d is not None and _finite(d.low) and _finite(d.high):
        if not _finite(value):
            return None
        low, high, v = float(d.low), float(d.high), float(value)
        if d.log and low > 0 and v > 0:
            low, high, v = math.log10(low), math.log10(high), math.log10(v)
        return 0.5 if high <= low else min(1.0, max(0.0, (v - low) / (high - low)))
    else:   # a value no longer in the space: spread what the trials had
        numbers = [s for s in seen if _finite(s)]
        if numbers and _finite(value):
            low, high = min(numbers), max(numbers)
            return 0.5 if high <= low else (value - low) / (high - low)
        options = sorted({repr(s) for s in seen})
        value = repr(value)
    if value not in options:
        return None
    return 0.5 if len(options) == 1 else options.index(value) / (len(options) - 1)


def axis_labels(d: ss.Dim | None, seen: list, graph=None) -> list[tuple[float, str]]:
    """(position, text) along an axis: a numeric range's ends, every option of a choice."""
    if d is not None and d.kind in ("choice", "type"):
        return [(position(d, c, seen), ss.describe(d, c, graph)) for c in d.choices]
    if d is not None and d.kind == "branch":
        return [(position(d, i, seen), ss.describe(d, i, graph)) for i in range(len(d.options))]
    if d is not None and _finite(d.low) and _finite(d.high):
        step = d.step or 1
        if d.kind in ("int", "repeat") and not d.log and (d.high - d.low) / step <= 8:
            whole = range(int(d.low), int(d.high) + 1, int(step))
            return [(position(d, v, seen), str(v)) for v in whole]
        return [(0.0, ss.describe(d, d.low, graph)), (1.0, ss.describe(d, d.high, graph))]
    numbers = [s for s in seen if _finite(s)]
    if numbers:
        return [(0.0, f"{min(numbers):.4g}"), (1.0, f"{max(numbers):.4g}")]
    return [(position(None, s, seen), str(s)) for s in sorted(set(map(str, seen)))]


def draw_parallel(widget: pg.PlotWidget, records, names: list[str], space: ss.SearchSpace,
                  objective: str, maximize: bool, graph=None, selected: int | None = None) -> None:
    """`selected`: the trial number picked in the table, drawn on top in the text colour."""
    done = [r for r in complete(records) if _finite(r.values[0])]
    if not done or not names:
        _empty(widget, "one line per complete trial shows here")
        return
    plot = widget.getPlotItem()
    plot.clear()
    values = [r.values[0] for r in done]
    lo, hi = min(values), max(values)

    def goodness(v: float) -> float:
        if hi <= lo:
            return 1.0
        t = (v - lo) / (hi - lo)
        return t if maximize else 1.0 - t

    axes = list(names) + [objective]
    _, fg, grid = charts.colours()
    for i in range(len(axes)):
        plot.addItem(pg.InfiniteLine(pos=i, angle=90, pen=_pen(fg, 1.0)))
    ordered = sorted(done, key=lambda r: (r.number == selected, goodness(r.values[0])))
    for r in ordered:        # the best drawn last, on top (under the selected one)
        ys = []
        for name in names:
            d = space.dim(name)
            ys.append(position(d, r.params.get(name), [t.params.get(name) for t in done]))
        ys.append(0.5 if hi <= lo else (r.values[0] - lo) / (hi - lo))
        xs = [i for i, y in enumerate(ys) if y is not None]
        ys = [y for y in ys if y is not None]
        g = goodness(r.values[0])
        if r.number == selected:     # outlined in the text colour, keeping its own colour
            plot.plot(xs, ys, pen=_pen(fg, 5.0))
        plot.plot(xs, ys, pen=_pen(_mix(g), 2.4 if g >= 1.0 or r.number == selected else 1.4),
                  symbol="o", symbolSize=4, symbolPen=None, symbolBrush=_mix(g))
    for i, name in enumerate(names):
        seen = [t.params.get(name) for t in done]
        for y, text in axis_labels(space.dim(name), seen, graph):
            if y is not None:
                _text(plot, text, i, y, anchor=(-0.08, 0.5), size="7pt")
    for y, v in ((0.0, lo), (1.0, hi)):
        _text(plot, f"{v:.4g}", len(names), y, anchor=(-0.08, 0.5), size="7pt")
    plot.getAxis("bottom").setTicks([[(i, a) for i, a in enumerate(axes)]])
    plot.getAxis("left").setTicks([[(0, "0"), (0.5, ""), (1, "1")]])
    plot.showGrid(x=False, y=False)
    plot.getViewBox().setRange(xRange=(-0.2, len(axes) - 0.4), yRange=(-0.06, 1.06), padding=0)


# -- importance -----------------------------------------------------------------------------

def draw_importance(widget: pg.PlotWidget, found: dict[str, float], objectives: int = 1) -> None:
    if not found:
        _empty(widget, "measured for one objective only" if objectives > 1
               else "needs two complete trials with different values")
        return
    plot = widget.getPlotItem()
    plot.clear()
    items = sorted(found.items(), key=lambda kv: kv[1])     # largest at the top
    ys = list(range(len(items)))
    plot.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.6, width=[v for _, v in items],
                                 brush=QColor(charts.SERIES["train"]), pen=None))
    for y, (_, v) in zip(ys, items):
        _text(plot, f"{v:.2f}", v, y, anchor=(-0.1, 0.5), size="7pt")
    plot.getAxis("left").setTicks([[(y, name) for y, (name, _) in zip(ys, items)]])
    plot.getAxis("bottom").setTicks(None)
    plot.showGrid(x=True, y=False, alpha=0.25)
    plot.getViewBox().setRange(xRange=(0, max(1e-9, max(v for _, v in items)) * 1.25),
                               yRange=(-0.6, len(items) - 0.4), padding=0)


# -- Pareto front ---------------------------------------------------------------------------

def pareto_front(points: list[tuple[int, float, float]], directions: list[str]) -> set[int]:
    """The trial numbers no other trial beats on both objectives."""
    sign = [1 if d == "minimize" else -1 for d in directions[:2]]
    front = set()
    for n, a, b in points:
        beaten = any(sign[0] * a2 <= sign[0] * a and sign[1] * b2 <= sign[1] * b and
                     (a2, b2) != (a, b) for _, a2, b2 in points)
        if not beaten:
            front.add(n)
    return front


def draw_pareto(widget: pg.PlotWidget, records, directions: list[str]) -> set[int]:
    points = [(r.number, r.values[0], r.values[1]) for r in complete(records)
              if len(r.values) > 1 and _finite(r.values[0]) and _finite(r.values[1])]
    if len(directions) < 2 or not points:
        _empty(widget, "a two-objective search shows its Pareto front here")
        return set()
    plot = widget.getPlotItem()
    plot.clear()
    front = pareto_front(points, directions)
    rest = [p for p in points if p[0] not in front]
    best = sorted((p for p in points if p[0] in front), key=lambda p: p[1])
    plot.plot([p[1] for p in rest], [p[2] for p in rest], pen=None, symbol="o", symbolSize=6,
              symbolPen=None, symbolBrush=WORSE)
    plot.plot([p[1] for p in best], [p[2] for p in best], pen=_pen(FRONT, 1.4), symbol="o",
              symbolSize=9, symbolPen=None, symbolBrush=QColor(FRONT))
    for n, a, b in best:
        _text(plot, f"#{n}", a, b, anchor=(-0.2, 1.0), size="7pt")
    plot.enableAutoRange()
    return front
