"""The canvas view: zoom around the cursor, pan (middle-drag or Space-drag), rubber-band
selection, fit, and drops (a palette entry adds a node; a .wbproj file opens)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

NODE_MIME = "application/x-workbench-node-type"
MIN_ZOOM, MAX_ZOOM = 0.08, 3.0


def project_paths(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()
            and u.toLocalFile().lower().endswith(".wbproj")]


MODEL_SUFFIXES = (".onnx", ".pt2")   # dropped: File › Import Model… with the file filled in


def model_paths(mime) -> list[str]:
    """Local model files (ONNX, .pt2) among dropped URLs."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()
            and u.toLocalFile().lower().endswith(MODEL_SUFFIXES)]


DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".data", ".dat")


def data_paths(mime) -> list[str]:
    """Local data files (CSV/TSV/TXT) among dropped URLs."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()
            and u.toLocalFile().lower().endswith(DATA_SUFFIXES)]


class EditorView(QGraphicsView):
    nodeDropped = Signal(str, QPointF)      # node type, scene position
    fileDropped = Signal(str)               # a .wbproj path
    dataDropped = Signal(str)               # a data file (CSV/TSV/TXT) path
    modelDropped = Signal(str)              # an .onnx / .pt2 path (to import)
    contextMenuAt = Signal(QPointF, object)  # scene position, item under the cursor (or None)
    zoomChanged = Signal(float)

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setContextMenuPolicy(Qt.DefaultContextMenu)
        self._pan_from: QPointF | None = None
        self._space = False
        self._hinted = None  # the edge a palette drag last hovered

    # -- zoom -------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        """Scale by `factor`, keeping the scene point under viewport position `at` (default:
        the view centre) where it is."""
        target = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / self.zoom
        if abs(factor - 1) < 1e-6:
            return
        at = QPointF(self.viewport().rect().center()) if at is None else QPointF(at)
        fixed = self.mapToScene(at.toPoint())
        old = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.NoAnchor)
        self.scale(factor, factor)
        self.setTransformationAnchor(old)
        drift = self.mapFromScene(fixed) - at.toPoint()
        self.pan(-drift.x(), -drift.y())
        self.zoomChanged.emit(self.zoom)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ShiftModifier:  # shift-wheel scrolls sideways
            return super().wheelEvent(event)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015 ** delta, event.position())
        event.accept()

    def fit(self) -> None:
        scene = self.scene()
        rect = scene.itemsBoundingRect()
        if rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
        else:
            self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
            if self.zoom > 1.0:
                self.resetTransform()
                self.centerOn(rect.center())
            elif self.zoom < MIN_ZOOM:
                self.zoom_by(MIN_ZOOM / self.zoom)
        self.zoomChanged.emit(self.zoom)

    def show_start(self, readable: float = 0.7) -> None:
        """Fit the graph; if that would make it too small to read, show its start (the left
        edge, vertically centred) at a readable zoom instead, the rest a scroll away."""
        self.fit()
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty() or self.zoom >= readable:
            return
        self.zoom_by(readable / self.zoom)
        half_width = self.viewport().width() / (2 * self.zoom)
        self.centerOn(rect.left() - 40 + half_width, rect.center().y())
        self.zoomChanged.emit(self.zoom)

    def centre_scene_pos(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # -- pan: middle-drag, or Space + left-drag ---------------------------------------------
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.OpenHandCursor)
            event.accept()
            return
        if event.key() == Qt.Key_Escape:
            self.scene().cancel_port_drag()
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton or (self._space and event.button() == Qt.LeftButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan(self, dx: float, dy: float) -> None:
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(dx))
        v.setValue(v.value() - round(dy))

    # -- context menu -----------------------------------------------------------------------
    def contextMenuEvent(self, event) -> None:
        pos = self.mapToScene(event.pos())
        item = self.itemAt(event.pos())
        self.contextMenuAt.emit(pos, item)
        event.accept()

    # -- drops ------------------------------------------------------------------------------
    def _accepts(self, mime) -> bool:
        return (mime.hasFormat(NODE_MIME) or bool(project_paths(mime)) or bool(data_paths(mime))
                or bool(model_paths(mime)))

    def dragEnterEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
            if event.mimeData().hasFormat(NODE_MIME):
                self._hint_edge(self.mapToScene(event.position().toPoint()))
        else:
            event.ignore()

    def _hint_edge(self, pos: QPointF) -> None:
        """Say, while a palette node is dragged over a connection, that a drop inserts it."""
        scene = self.scene()
        edge = scene.edge_at(pos) if hasattr(scene, "edge_at") else None
        if edge != self._hinted:
            self._hinted = edge
            if edge is not None:
                g = scene.graph
                scene.message.emit(f"drop to insert it between '{g.nodes[edge.src].title}' and "
                                   f"'{g.nodes[edge.dst].title}'")

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasFormat(NODE_MIME):
            type_name = bytes(mime.data(NODE_MIME)).decode("utf-8")
            pos = self.mapToScene(event.position().toPoint())
            event.acceptProposedAction()
            self.nodeDropped.emit(type_name, pos)
            return
        paths = project_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.fileDropped.emit(paths[0])
            return
        paths = data_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.dataDropped.emit(paths[0])
            return
        paths = model_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.modelDropped.emit(paths[0])
            return
        event.ignore()
