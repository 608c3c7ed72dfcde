"""The node palette: every catalog node by category, searchable; drag onto the canvas, or
double-click / Enter to add at the view's centre."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.core import catalog
from workbench.ui import theme
from workbench.ui.editor.view import NODE_MIME

TYPE_ROLE = Qt.UserRole + 1


def category_icon(category: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(theme.category_colour(category))
    p.drawRoundedRect(1, 1, 12, 12, 3, 3)
    p.end()
    return QIcon(pix)


def spec_tooltip(spec) -> str:
    ins = ", ".join(f"{p.name}{'?' if p.optional else ''}" + (f" ({p.kind})" if p.kind != "tensor" else "")
                    for p in spec.inputs) or "none"
    outs = ", ".join(p.name + (f" ({p.kind})" if p.kind != "tensor" else "") for p in spec.outputs) or "none"
    text = (f"<b>{spec.type}</b> <i>({spec.category})</i><br>{spec.help}<br>"
            f"<small>inputs: {ins} · outputs: {outs}</small>")
    return text


class PaletteTree(QTreeWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setRootIsDecorated(True)
        self.setIndentation(12)
        self.setUniformRowHeights(True)

    def mimeTypes(self):
        return [NODE_MIME]

    def mimeData(self, items):
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if not types:
            return None
        mime = QMimeData()
        mime.setData(NODE_MIME, types[0].encode("utf-8"))
        mime.setText(types[0])
        return mime


class Palette(QWidget):
    addRequested = Signal(str)  # node type: add at the view centre

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search nodes…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.tree = PaletteTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._add_first_visible)
        self.tree.itemActivated.connect(self._activated)  # double-click and Enter
        self.populate()

    def populate(self) -> None:
        self.tree.clear()
        for category, specs in catalog.by_category().items():   # only those `offered`
            top = QTreeWidgetItem([category])
            top.setIcon(0, category_icon(category))
            top.setFlags(Qt.ItemIsEnabled)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            for spec in specs:
                child = QTreeWidgetItem([spec.type])
                child.setData(0, TYPE_ROLE, spec.type)
                child.setToolTip(0, spec_tooltip(spec))
                child.setIcon(0, category_icon(category))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()

    def items(self) -> dict[str, QTreeWidgetItem]:
        found = {}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                found[top.child(j).data(0, TYPE_ROLE)] = top.child(j)
        return found

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                spec = catalog.find(child.data(0, TYPE_ROLE))
                hay = f"{spec.type} {spec.category} {spec.help}".lower()
                ok = all(w in hay for w in words)
                child.setHidden(not ok)
                shown += ok
            top.setHidden(shown == 0)
        if words:
            first = self._first_visible()
            if first is not None:
                self.tree.setCurrentItem(first)

    def _first_visible(self):
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.isHidden():
                continue
            for j in range(top.childCount()):
                if not top.child(j).isHidden():
                    return top.child(j)
        return None

    def _add_first_visible(self) -> None:
        item = self.tree.currentItem() or self._first_visible()
        if item is not None and not item.isHidden() and item.data(0, TYPE_ROLE):
            self.addRequested.emit(item.data(0, TYPE_ROLE))

    def _activated(self, item, column=0) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.addRequested.emit(type_name)
