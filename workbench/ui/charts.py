"""pyqtgraph plots themed like the rest of the app, and the colours the charts share.

Curves are created once and fed with `setData` from a timer; long histories are drawn with
peak downsampling and clip-to-view (DESIGN.md, pyqtgraph notes). Pens stay 1-2 px wide: wider
pens are slow without OpenGL.
"""
from __future__ import annotations

import PySide6  # noqa: F401  (pyqtgraph must pick this binding)
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

from workbench.ui import theme

pg.setConfigOptions(antialias=True, useNumba=False)

SERIES = {"train": "#2f7de1", "val": "#e8743b", "test": "#2e9e5b", "lr": "#8e5bd0"}
OVERLAY = ["#6d7780", "#c04fb0", "#1f9fb4", "#9a8a3a", "#d44c4c", "#4fa08b", "#a0709a"]


def colours() -> tuple[str, str, str]:
    """(background, foreground text, grid) for the current theme."""
    if theme.is_dark():
        return "#1f2226", "#d8dce2", "#3a3e45"
    return "#ffffff", "#30353d", "#d8dbe1"


def style_plot(widget: pg.PlotWidget, title: str = "", left: str = "", bottom: str = "") -> pg.PlotItem:
    """Colour a plot for the current theme; called again on a theme switch, it keeps the
    plot's title and axis labels and only recolours them."""
    bg, fg, _ = colours()
    widget.setBackground(bg)
    item = widget.getPlotItem()
    title = title or (item.titleLabel.text if item.titleLabel.isVisible() else "")
    if title:
        item.setTitle(title, color=fg, size="9pt")
    font = QFont()
    font.setPointSizeF(8)
    for name, text in (("left", left), ("bottom", bottom)):
        axis = item.getAxis(name)
        text = text or (axis.labelText if axis.label.isVisible() else "")
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
        axis.setStyle(tickFont=font)
        axis.enableAutoSIPrefix(False)   # '(x0.001)' on a loss axis reads as a unit
        # ...but disabling it computes one last scale from the current range and keeps it (a
        # second call, on a theme switch, with values in 0..1 drew them as 0..1000): undo that
        axis.autoSIPrefixScale, axis.labelUnitPrefix = 1.0, ""
        if text:
            axis.setLabel(text, color=fg, **{"font-size": "8pt"})
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setMenuEnabled(False)
    widget.setMinimumSize(140, 120)
    widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    return item


def make_plot(title: str = "", left: str = "", bottom: str = "") -> pg.PlotWidget:
    widget = pg.PlotWidget()
    style_plot(widget, title, left, bottom)
    return widget


def make_curve(plot: pg.PlotItem, colour: str, name: str | None = None, width: float = 1.6,
               dash: bool = False, symbol: str | None = None) -> pg.PlotDataItem:
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    if dash:
        pen.setStyle(Qt.DashLine)
    curve = plot.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=5,
                      symbolBrush=QColor(colour), symbolPen=None)
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return curve


def add_legend(plot: pg.PlotItem) -> pg.LegendItem:
    """One row under the x axis, outside the data: inside the plot it covered the curves'
    last epochs (where a user looks)."""
    _, fg, _ = colours()
    legend = pg.LegendItem(labelTextColor=fg, labelTextSize="8pt", colCount=4, frame=False)
    plot.layout.addItem(legend, 4, 1)
    plot.legend = legend     # PlotItem.addItem puts each named curve in it
    return legend


def show_empty(plot: pg.PlotWidget, x_max: float = 1.0) -> None:
    """Before any run: a plain 0..x_max by 0..1 frame, not pyqtgraph's default ±400 range
    with an '(x0.001)' prefix on the axis."""
    vb = plot.getPlotItem().getViewBox()
    vb.setRange(xRange=(0, max(float(x_max), 1.0)), yRange=(0, 1), padding=0.02)


def class_ticks(names: list[str], width: int, labelled: int = 10) -> list[list[tuple[int, str]]]:
    """Ticks for one axis position per class, names cut to `width` characters. At most
    `labelled` of them go in the first level; the others form a second level that pyqtgraph
    draws only where there is room, so 50 classes do not print over each other."""
    short = [(i, n if len(n) <= width else n[:width - 1] + "…") for i, n in enumerate(names)]
    step = max(1, -(-len(short) // labelled))
    return [short[::step], [t for i, t in enumerate(short) if i % step]]
