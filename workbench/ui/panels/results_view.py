"""End of a run: the metrics table, and a confusion-matrix heat-map (classification) or a
predicted-vs-actual scatter (regression)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.ui import charts

MAX_LABELLED = 20   # more classes than this: no numbers in the cells


class ResultsView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["metric", "train", "val", "test"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.setMinimumWidth(200)
        self.caption = QLabel("Results appear here when a run ends.")
        self.caption.setWordWrap(True)
        self.classes = QTableWidget(0, 5)   # per class: where accuracy hides a rare class
        self.classes.setHorizontalHeaderLabels(["class", "precision", "recall", "F1", "rows"])
        self.classes.verticalHeader().hide()
        self.classes.setEditTriggers(QTableWidget.NoEditTriggers)
        self.classes.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.classes.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.classes.setSortingEnabled(True)
        self.classes.hide()
        self.plot = charts.make_plot("Confusion matrix (test)", "true class", "predicted class")
        self.item = self.plot.getPlotItem()
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.item.addItem(self.image)
        self.item.showGrid(x=False, y=False)
        self.item.invertY(True)
        self.item.setAspectLocked(False)
        self.labels: list[pg.TextItem] = []
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(charts.SERIES["train"] + "a0"))
        self.diagonal = pg.PlotDataItem([], [], pen=pg.mkPen(charts.SERIES["val"], style=Qt.DashLine))
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.caption)
        ll.addWidget(self.table, 1)
        ll.addWidget(self.classes, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([380, 620])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.matrix: np.ndarray | None = None

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.classes.setRowCount(0)
        self.classes.hide()
        self.caption.setText("Results appear here when a run ends.")
        self._clear_plot()
        self.item.setTitle("Test results: when the run ends", size="9pt",
                           color=charts.colours()[1])
        for axis in ("left", "bottom"):
            self.item.getAxis(axis).setTicks([[]])
            self.item.setLabel(axis, "")
        self.item.getAxis("left").setWidth(None)
        self.item.getViewBox().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def _clear_plot(self) -> None:
        for t in self.labels:
            self.item.removeItem(t)
        self.labels = []
        self.image.clear()
        self.matrix = None
        for extra in (self.scatter, self.diagonal):
            if extra.scene() is not None:
                self.item.removeItem(extra)

    def show_summary(self, summary: dict, caption: str = "") -> None:
        splits = ["train", "val", "test"]
        names = []
        for s in splits:
            for k, v in (summary.get(s) or {}).items():
                if isinstance(v, (int, float)) and k not in names:
                    names.append(k)
        self.table.setRowCount(len(names))
        bold = QFont()
        bold.setBold(True)
        for row, name in enumerate(names):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            for col, s in enumerate(splits, start=1):
                v = (summary.get(s) or {}).get(name)
                item = QTableWidgetItem("—" if v is None else f"{v:.3f}")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if s == "test":
                    item.setFont(bold)
                self.table.setItem(row, col, item)
        self.caption.setText(caption)
        self.show_per_class(summary)
        self._clear_plot()
        split = next((s for s in ("test", "val") if (summary.get(s) or {}).get("confusion_matrix")), None)
        if split:
            self.show_confusion(np.array(summary[split]["confusion_matrix"]),
                                summary.get("classes") or [], split)

    def show_per_class(self, summary: dict) -> None:
        """Precision/recall/F1 per class of the test split (else val); recall under half in red."""
        from workbench.train.verdict import per_class
        split, rows = per_class(summary)
        self.classes.setSortingEnabled(False)
        self.classes.setRowCount(len(rows))
        self.classes.setVisible(bool(rows))
        if rows:
            self.classes.horizontalHeaderItem(0).setText(f"class ({split})")
        for r, (name, *values) in enumerate(rows):
            self.classes.setItem(r, 0, QTableWidgetItem(name))
            for c, v in enumerate(values, start=1):
                item = QTableWidgetItem()
                item.setData(Qt.DisplayRole, int(v) if c == 4 else round(float(v), 3))
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c == 2 and v < 0.5:
                    item.setForeground(QColor("#d04040"))
                    item.setToolTip("fewer than half of this class' rows are found")
                self.classes.setItem(r, c, item)
        self.classes.setSortingEnabled(True)

    def show_confusion(self, cm: np.ndarray, classes: list[str], split: str = "test") -> None:
        self._clear_plot()
        k = cm.shape[0]
        classes = list(classes) or [str(i) for i in range(k)]
        rows = cm.sum(axis=1, keepdims=True)
        share = np.divide(cm, np.maximum(rows, 1))   # row-normalised: recall on the diagonal
        self.matrix = cm
        # ImageItem's first axis is x: transpose so that rows (true classes) run down the y axis
        self.image.setImage(share.T, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(-0.5, -0.5, k, k)
        self.item.setTitle(f"Confusion matrix ({split}) · colour = share of the true class",
                           size="9pt", color=charts.colours()[1])
        self.item.setLabel("left", "true class")
        self.item.setLabel("bottom", "predicted class")
        ticks = charts.class_ticks(classes, 10)
        left = self.item.getAxis("left")
        left.setTicks(ticks)
        self.item.getAxis("bottom").setTicks(ticks)
        # pyqtgraph skips a tick label wider than the axis is at that moment (it widens only on
        # a later paint): room for the widest class name from the start
        metrics = QFontMetrics(left.style.get("tickFont") or QFont())
        left.setWidth(max(metrics.horizontalAdvance(t) for _, t in ticks[0] + ticks[1]) + 20)
        if k <= MAX_LABELLED:
            font = QFont()
            font.setPointSizeF(7.5 if k > 10 else 8.5)
            for i in range(k):
                for j in range(k):
                    colour = QColor("#111111") if share[i, j] > 0.6 else QColor("#ffffff")
                    t = pg.TextItem(str(int(cm[i, j])), color=colour, anchor=(0.5, 0.5))
                    t.setFont(font)
                    t.setPos(j, i)
                    self.item.addItem(t)
                    self.labels.append(t)
        self.item.getViewBox().setRange(xRange=(-0.5, k - 0.5), yRange=(-0.5, k - 0.5), padding=0)

    def show_scatter(self, predicted: np.ndarray, actual: np.ndarray) -> None:
        self._clear_plot()
        self.item.getAxis("left").setTicks(None)
        self.item.getAxis("left").setWidth(None)
        self.item.getAxis("bottom").setTicks(None)
        self.item.invertY(False)
        self.item.setTitle("Predicted vs actual (test)", size="9pt", color=charts.colours()[1])
        self.item.setLabel("left", "predicted")
        self.item.setLabel("bottom", "actual")
        p, a = predicted.reshape(len(predicted), -1)[:, 0], actual.reshape(len(actual), -1)[:, 0]
        self.scatter.setData(a, p)
        lo, hi = float(min(a.min(), p.min())), float(max(a.max(), p.max()))
        self.diagonal.setData([lo, hi], [lo, hi])
        self.item.addItem(self.diagonal)
        self.item.addItem(self.scatter)
        self.item.getViewBox().autoRange()
