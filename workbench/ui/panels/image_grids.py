"""The Data panel's two image views: a thumbnail grid per class, and "what the model will see"
(a few samples × a few augmentations, with Re-draw).

Both are self-contained widgets fed with numpy arrays (`set_images`, `set_options`), so the
panel decides when to decode and these only draw. Pixels become a QImage directly (greyscale,
RGB, RGBA); tiny images are enlarged with nearest-neighbour so a 28×28 digit stays crisp.
"""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QVBoxLayout, QWidget)

from workbench.data.image_augment import is_off, preview_grid

TILE = 64  # the long side of a tile on screen, in pixels
FORMATS = {1: QImage.Format_Grayscale8, 3: QImage.Format_RGB888, 4: QImage.Format_RGBA8888}


def to_qimage(a: np.ndarray) -> QImage:
    """uint8 (C, H, W) with C = 1, 3 or 4 (or float in 0..1) -> a QImage owning its pixels."""
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = a[None]
    c, h, w = a.shape
    if c not in FORMATS:
        raise ValueError(f"an image has 1, 3 or 4 channels, not {c}")
    hwc = np.ascontiguousarray(a.transpose(1, 2, 0))
    return QImage(hwc.data, w, h, w * c, FORMATS[c]).copy()  # copy: Qt owns the pixels


def tile_pixmap(a: np.ndarray, size: int = TILE) -> QPixmap:
    """The picture scaled so its long side is `size`: nearest-neighbour when enlarging (pixels
    stay pixels), smooth when shrinking."""
    image = to_qimage(a)
    mode = Qt.FastTransformation if max(image.width(), image.height()) <= size \
        else Qt.SmoothTransformation
    return QPixmap.fromImage(image.scaled(size, size, Qt.KeepAspectRatio, mode))


def _tile(a: np.ndarray, size: int, tip: str, name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setPixmap(tile_pixmap(a, size))
    label.setFixedSize(size + 4, size + 4)
    label.setAlignment(Qt.AlignCenter)
    label.setStyleSheet("QLabel { border: 1px solid palette(mid); }")
    if tip:
        label.setToolTip(f"<p>{html.escape(tip)}</p>")  # rich text, so the path is escaped
    return label


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("note")
    label.setTextFormat(Qt.PlainText)
    label.setWordWrap(True)
    return label


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.setParent(None)  # gone from findChildren now, not at the next event loop
            widget.deleteLater()
        elif item.layout() is not None:
            _clear(item.layout())


def scrolled_grid() -> tuple[QGridLayout, QScrollArea]:
    """A grid of tiles kept at the top left of a scroll area (tiles never stretch)."""
    grid = QGridLayout()
    grid.setSpacing(4)
    inner = QWidget()
    box = QVBoxLayout(inner)
    box.setContentsMargins(4, 4, 4, 4)
    box.addLayout(grid)
    box.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(inner)
    return grid, scroll


class ThumbnailGrid(QWidget):
    """One row per class: its name and image count, then a few of its thumbnails."""

    def __init__(self, parent=None, tile: int = TILE):
        super().__init__(parent)
        self._tile = tile
        self._grid, scroll = scrolled_grid()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.set_images([], [])

    def set_images(self, thumbs, counts=None) -> None:
        """thumbs: [(label, path, uint8 (C, H, W))] as `images.thumbnails` gives them;
        counts: [(class, images)] or {class: images}, the order of the rows (default: the
        thumbnails' labels in order of first appearance)."""
        _clear(self._grid)
        by_class: dict[str, list] = {}
        for label, path, pixels in thumbs:
            by_class.setdefault(str(label), []).append((str(path), pixels))
        if counts is None:
            counts = [(name, len(items)) for name, items in by_class.items()]
        elif isinstance(counts, dict):
            counts = list(counts.items())
        if not counts:
            self._grid.addWidget(_note("No images."), 0, 0)
            return
        for row, (name, count) in enumerate(counts):
            name = str(name)
            head = QLabel(f"<b>{html.escape(name)}</b><br>{int(count):,} "
                          f"image{'' if int(count) == 1 else 's'}")
            head.setObjectName("class-label")
            head.setTextFormat(Qt.RichText)
            head.setMinimumWidth(90)
            head.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
            self._grid.addWidget(head, row, 0)
            items = by_class.get(name, [])
            if not items:  # across the tile columns, so it does not widen the first one
                self._grid.addWidget(_note("no thumbnail"), row, 1, 1, -1)
            for col, (path, pixels) in enumerate(items, start=1):
                self._grid.addWidget(_tile(pixels, self._tile, path, "thumbnail"), row, col)
        self._grid.setColumnStretch(self._grid.columnCount(), 1)

    def tiles(self) -> list[QLabel]:
        return self.findChildren(QLabel, "thumbnail")

    def class_labels(self) -> list[QLabel]:
        return self.findChildren(QLabel, "class-label")


_SHOWN = (("flip", "flip {:.0%}"), ("vflip", "vertical flip {:.0%}"), ("rotate", "rotate ±{:g}°"),
          ("crop", "crop up to {:.0%}"), ("jitter", "colour jitter {:g}"),
          ("cutout", "cutout {:.0%}"), ("noise_std", "noise σ {:g}"))


def describe(options: dict) -> str:
    """One line of what is on, in the user's words (the Data panel's augment settings)."""
    values = ((float(options.get(k, 0) or 0), shown) for k, shown in _SHOWN)
    return " · ".join(shown.format(v) for v, shown in values if v > 0)


class AugmentationGrid(QWidget):
    """What the model will see: each row a sample, column 0 the original, then `copies - 1`
    random augmentations drawn with the same code training uses. Re-draw takes a new seed."""

    def __init__(self, parent=None, copies: int = 5, tile: int = TILE):
        super().__init__(parent)
        self._tile = tile
        self.copies = max(2, int(copies))
        self.seed = 0
        self._images = np.zeros((0, 1, 1, 1), np.uint8)
        self._options: dict = {}
        self._mean = self._std = None
        self.preview: np.ndarray | None = None  # the last (K, copies, C, H, W) drawn, 0..1
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setTextFormat(Qt.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.redraw_button = QPushButton("Re-draw")
        self.redraw_button.setToolTip("Draw new random augmentations of the same samples")
        self.redraw_button.clicked.connect(self.redraw)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.redraw_button)
        self._grid, scroll = scrolled_grid()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top)
        outer.addWidget(scroll, 1)
        self._render()

    def set_images(self, images, mean=None, std=None) -> None:
        """images: uint8 (K, C, H, W), a few samples; mean/std: the fitted per-channel values
        (0..1 units) so padding and noise look as in training (default: the samples' own)."""
        a = np.asarray(images)
        self._images = a if a.ndim == 4 else np.zeros((0, 1, 1, 1), np.uint8)
        self._mean, self._std = mean, std
        self._render()

    def set_options(self, options: dict) -> None:
        """The augment settings (project["data"]["augment"]); redraws with the same seed."""
        self._options = dict(options or {})
        self._render()

    def redraw(self) -> None:
        self.seed += 1
        self._render()

    def tiles(self) -> list[QLabel]:
        return self.findChildren(QLabel, "augmented") + self.findChildren(QLabel, "original")

    def _render(self) -> None:
        _clear(self._grid)
        off = is_off(self._options)
        k = len(self._images)
        self.redraw_button.setEnabled(k > 0 and not off)
        self.summary.setText("Augmentation is off: the model sees the originals." if off else
                             f"Training batches: {describe(self._options)}")
        if k == 0:
            self.preview = None
            self._grid.addWidget(_note("No images loaded."), 0, 0)
            return
        copies = 1 if off else self.copies
        self.preview = preview_grid(self._images, self._options, self.seed, copies,
                                    self._mean, self._std)
        for col in range(copies):
            head = QLabel("original" if col == 0 else f"seen {col}")
            head.setObjectName("column-label")
            head.setAlignment(Qt.AlignCenter)
            self._grid.addWidget(head, 0, col)
        for row in range(k):
            for col in range(copies):
                name = "original" if col == 0 else "augmented"
                self._grid.addWidget(_tile(self.preview[row, col], self._tile, "", name),
                                     row + 1, col)
        self._grid.setColumnStretch(copies, 1)
