"""The Problems panel: every validation problem; double-click selects its node."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QStyle, QTreeWidget, QTreeWidgetItem

NODE_ROLE = Qt.UserRole + 1


class ProblemsPanel(QTreeWidget):
    nodeActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Node", "Problem"])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setColumnWidth(0, 140)
        self.setWordWrap(True)
        self.itemActivated.connect(self._activated)

    def show_analysis(self, analysis, graph) -> None:
        self.clear()
        err = self.style().standardIcon(QStyle.SP_MessageBoxCritical)
        warn = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        ordered = sorted(analysis.problems, key=lambda p: p.severity != "error")
        for p in ordered:
            node = graph.nodes.get(p.node_id) if p.node_id else None
            where = node.title if node else (
                "(training)" if p.message.startswith(("training.", "training:")) else
                "(search)" if p.message.startswith(("search ", "search.", "search:")) else "(graph)")
            item = QTreeWidgetItem([where, p.message])
            item.setIcon(0, err if p.severity == "error" else warn)
            item.setToolTip(1, p.message)
            item.setData(0, NODE_ROLE, p.node_id)
            self.addTopLevelItem(item)

    def _activated(self, item, column=0) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.nodeActivated.emit(node_id)
