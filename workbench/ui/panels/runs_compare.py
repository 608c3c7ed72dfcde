""""Compare runs": two or more run folders side by side — their curves overlaid, their settings
in one table (differing rows highlighted), and what changed in the architecture. All of it is
read from the run folders (workbench.train.compare); this module only lays it out.

Names and values come from files, so they go into plain-text items; the chart legend is the one
place that renders markup, and its names are escaped.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QHBoxLayout,
                               QHeaderView, QLabel, QListWidget, QListWidgetItem, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core import project as project_file
from workbench.train import compare
from workbench.train.runs import read_run
from workbench.ui import charts, theme

METRIC_FIRST = ("val_loss", "loss", "val_accuracy", "val_r2")


def run_colours(n: int) -> list[str]:
    """One colour per run: the dashboard's series colours, then its overlay colours."""
    palette = [charts.SERIES["train"], charts.SERIES["val"], charts.SERIES["test"],
               charts.SERIES["lr"], *charts.OVERLAY]
    return [palette[i % len(palette)] for i in range(n)]


def highlight() -> QColor:
    return QColor("#5a4a1a") if theme.is_dark() else QColor("#ffecb3")


class RunsCompareDialog(QDialog):
    def __init__(self, folders: list[Path], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self.folders = [Path(f) for f in folders]
        self.names = [compare.run_name(f) for f in self.folders]
        self.warnings: list[str] = []
        records = [read_run(f, events=True) for f in self.folders]
        self.curves = [compare.curves(r) for r in records]
        for r in records:
            self.warnings += r.warnings
        self.projects: list[tuple[str, project_file.Project]] = []
        for name, folder in zip(self.names, self.folders):
            try:
                self.projects.append((name, project_file.load(folder / "project.wbproj")))
            except project_file.ProjectError as exc:
                self.warnings.append(f"{name}: {exc} — left out of the settings and architecture")
        self.rows = compare.settings_diff([p for _, p in self.projects])
        self._build()
        self.show_metric()
        self.resize(1100, 760)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.metric_box = QComboBox()
        keys = [k for c in self.curves for k in c]
        ordered = [k for k in METRIC_FIRST if k in keys] + sorted(set(keys) - set(METRIC_FIRST))
        for key in ordered:
            self.metric_box.addItem(key, key)
        self.metric_box.currentIndexChanged.connect(self.show_metric)
        self.plot = charts.make_plot(bottom="epoch")
        self.legend = charts.add_legend(self.plot.getPlotItem())
        self.plot_curves = [charts.make_curve(self.plot.getPlotItem(), colour, html.escape(name),
                                              symbol="o")
                            for name, colour in zip(self.names, run_colours(len(self.names)))]
        top = QHBoxLayout()
        top.addWidget(QLabel("Metric:"))
        top.addWidget(self.metric_box)
        top.addStretch(1)

        self.only_differences = QCheckBox("Only differences")
        self.only_differences.toggled.connect(self.filter_rows)
        self.table = QTableWidget(len(self.rows), 1 + len(self.projects))
        self.table.setHorizontalHeaderLabels(["Setting", *(n for n, _ in self.projects)])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        header = self.table.horizontalHeader()   # the runs share the width; long paths elide
        header.setSectionResizeMode(QHeaderView.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.setWordWrap(False)
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(self.rows):
            cells = [row.key, *(compare.show(v) for v in row.values)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)     # plain text: values come from files
                item.setToolTip(f"<p style='white-space:pre'>{html.escape(text)}</p>")
                if row.differs:
                    item.setBackground(highlight())
                    item.setFont(bold)
                self.table.setItem(r, c, item)
        differing = sum(r.differs for r in self.rows)
        self.settings_label = QLabel(f"Settings — {differing} of {len(self.rows)} differ")
        settings = QWidget()
        lay = QVBoxLayout(settings)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.settings_label)
        head.addStretch(1)
        head.addWidget(self.only_differences)
        lay.addLayout(head)
        lay.addWidget(self.table, 1)

        self.architecture = QListWidget()
        self._fill_architecture()
        arch = QWidget()
        lay = QVBoxLayout(arch)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Architecture"))
        lay.addWidget(self.architecture, 1)

        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(settings)
        bottom.addWidget(arch)
        bottom.setSizes([640, 420])
        chart = QWidget()
        lay = QVBoxLayout(chart)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        split = QSplitter(Qt.Vertical)
        split.addWidget(chart)
        split.addWidget(bottom)
        split.setSizes([330, 430])

        self.warning_label = QLabel("\n".join(self.warnings))
        self.warning_label.setTextFormat(Qt.PlainText)
        self.warning_label.setWordWrap(True)
        self.warning_label.setVisible(bool(self.warnings))
        self.warning_label.setStyleSheet("color: #b35c00;")
        outer = QVBoxLayout(self)
        outer.addWidget(split, 1)
        outer.addWidget(self.warning_label)

    def _fill_architecture(self) -> None:
        """Two runs: a → b. More: each against the first."""
        if len(self.projects) < 2:
            self.architecture.addItem("fewer than two readable projects: nothing to compare")
            return
        (first, base), bold = self.projects[0], QFont()
        bold.setBold(True)
        for name, other in self.projects[1:]:
            head = QListWidgetItem(f"{first} → {name}")
            head.setFont(bold)
            self.architecture.addItem(head)
            for line in compare.describe(compare.architecture_diff(base, other)):
                self.architecture.addItem(QListWidgetItem("    " + line))

    # -- behaviour ------------------------------------------------------------------------
    @Slot()
    def show_metric(self) -> None:
        key = self.metric_box.currentData()
        for curve, series in zip(self.plot_curves, self.curves):
            points = series.get(key, []) if key else []
            curve.setData([x for x, _ in points], [y for _, y in points])
        charts.style_plot(self.plot, left=key or "")
        last = max((x for series in self.curves for x, _ in series.get(key, [])), default=0)
        bottom = self.plot.getPlotItem().getAxis("bottom")
        if last <= 12:
            bottom.setTickSpacing(1, 1)        # a few epochs: whole numbers, not 1.1, 1.2, ...
        else:
            bottom.setTickSpacing()
        self.plot.getPlotItem().getViewBox().enableAutoRange()

    @Slot(bool)
    def filter_rows(self, only: bool) -> None:
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, only and not row.differs)
