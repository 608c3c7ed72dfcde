"""The Data panel's image views on generated pictures: the thumbnail grid (a row per class, its
count, escaped names and paths) and the augmentation grid (originals kept, Re-draw draws new
augmentations). Screenshots: tests/_artifacts/thumbnail-grid.png, augmentation-grid.png
(looked at)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from workbench.data.settings import AUGMENT_DEFAULTS
from workbench.ui.panels.image_grids import (AugmentationGrid, ThumbnailGrid, describe,
                                             tile_pixmap, to_qimage)


def picture(kind: str, seed: int, channels: int = 3, size: int = 24) -> np.ndarray:
    """uint8 (C, H, W): a shape of one colour on a soft gradient, placed by the seed, so flips,
    rotations and crops are easy to see."""
    rng = np.random.default_rng(seed)
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = (40 + 60 * xx / w).astype(np.float32)
    colour = {"circle": (230, 60, 50), "square": (50, 160, 230), "cross": (240, 200, 40)}[kind]
    cy, cx = rng.integers(7, h - 7), rng.integers(6, w - 8)
    r = 5
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif kind == "square":
        mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
    else:
        mask = ((abs(yy - cy) <= 1) & (abs(xx - cx) <= r)) | \
            ((abs(xx - cx) <= 1) & (abs(yy - cy) <= r))
    rgb = np.stack([np.where(mask, c, base) for c in colour])
    rgb[:, 1:4, w - 6: w - 2] = 255  # a white mark top-right: shows which way is up
    if channels == 1:
        return rgb.mean(0, keepdims=True).astype(np.uint8)
    if channels == 4:
        alpha = np.full((1, h, w), 255, np.float32)
        alpha[:, :, :3] = 90
        return np.concatenate([rgb, alpha]).astype(np.uint8)
    return rgb.astype(np.uint8)


def thumbs(per_class=4, channels=3):
    out = []
    for kind in ("circle", "square", "cross"):
        for i in range(per_class):
            out.append((kind, f"{kind}/img_{i}.png", picture(kind, i, channels)))
    return out


def test_pixels_become_qimages_for_grey_rgb_and_rgba(app):
    for channels in (1, 3, 4):
        a = picture("square", 0, channels)
        image = to_qimage(a)
        assert (image.width(), image.height()) == (24, 24)
        colour = image.pixelColor(23, 12)  # right edge, middle: the gradient, not the shape
        if channels == 1:
            assert colour.red() == colour.green() == colour.blue() == a[0, 12, 23]
        else:
            assert (colour.red(), colour.green(), colour.blue()) == tuple(a[:3, 12, 23])
        if channels == 4:
            assert image.pixelColor(0, 0).alpha() == 90
    # tiny pictures are enlarged pixel for pixel (nearest-neighbour), big ones shrunk
    small = tile_pixmap(picture("cross", 0, 3, size=16), 64).toImage()
    assert (small.width(), small.height()) == (64, 64)
    assert small.pixelColor(0, 0) == small.pixelColor(3, 3)
    assert tile_pixmap(np.zeros((3, 200, 100), np.uint8), 64).height() == 64
    with pytest.raises(ValueError, match="1, 3 or 4 channels, not 2"):
        to_qimage(np.zeros((2, 4, 4), np.uint8))


def test_thumbnail_grid_rows_counts_and_escaped_names(qtbot, artifacts):
    grid = ThumbnailGrid()
    qtbot.addWidget(grid)
    counts = [("circle", 120), ("square", 1), ("cross", 87), ("<b>empty</b>", 3)]
    grid.set_images(thumbs(), counts)
    grid.resize(460, 380)
    grid.show()
    qtbot.waitExposed(grid)
    assert len(grid.tiles()) == 12
    texts = [label.text() for label in grid.class_labels()]
    assert texts[0] == "<b>circle</b><br>120 images"
    assert texts[1] == "<b>square</b><br>1 image"
    assert texts[3] == "<b>&lt;b&gt;empty&lt;/b&gt;</b><br>3 images"  # a folder name is data
    assert "circle/img_0.png" in grid.tiles()[0].toolTip()
    assert grid.grab().save(str(artifacts / "thumbnail-grid.png"))
    # new data replaces the old at once; no counts: rows follow the thumbnails
    grid.set_images(thumbs(per_class=2, channels=1))
    assert len(grid.tiles()) == 6
    assert [lb.text().split("<br>")[1] for lb in grid.class_labels()] == ["2 images"] * 3
    grid.set_images([], [])
    assert grid.tiles() == [] and grid.class_labels() == []


def test_augmentation_grid_redraw_changes_augmented_not_originals(qtbot, artifacts):
    images = np.stack([picture(k, i) for i, k in enumerate(("circle", "square", "cross"))])
    grid = AugmentationGrid(copies=5)
    qtbot.addWidget(grid)
    grid.set_images(images)
    assert "off" in grid.summary.text()
    assert not grid.redraw_button.isEnabled()
    assert len(grid.tiles()) == 3  # off: the originals only
    options = {**AUGMENT_DEFAULTS, "flip": 0.5, "rotate": 20, "crop": 0.3, "jitter": 0.3,
               "cutout": 0.5}
    grid.set_options(options)
    grid.resize(460, 330)
    grid.show()
    qtbot.waitExposed(grid)
    assert len(grid.findChildren(QLabel, "augmented")) == 3 * 4
    assert len(grid.findChildren(QLabel, "original")) == 3
    assert grid.summary.text() == ("Training batches: flip 50% · rotate ±20° · crop up to 30% · "
                                   "colour jitter 0.3 · cutout 50%")
    assert grid.redraw_button.isEnabled()
    first = grid.preview.copy()
    before = grid.findChildren(QLabel, "augmented")[0].pixmap().toImage()
    np.testing.assert_allclose(first[:, 0], images / 255.0, atol=1e-6)
    assert grid.grab().save(str(artifacts / "augmentation-grid.png"))
    qtbot.mouseClick(grid.redraw_button, Qt.LeftButton)
    assert grid.seed == 1
    second = grid.preview
    np.testing.assert_array_equal(second[:, 0], first[:, 0])
    assert not np.allclose(second[:, 1:], first[:, 1:])
    # the tiles show the new draw: an augmented tile's pixels differ, an original's do not
    originals = grid.findChildren(QLabel, "original")
    assert originals[0].pixmap().toImage() == tile_pixmap(images[0]).toImage()
    after = grid.findChildren(QLabel, "augmented")[0].pixmap().toImage()
    assert after == tile_pixmap(second[0, 1]).toImage() and after != before
    # same seed, new options: redrawn with the options, seed kept
    grid.set_options({**options, "cutout": 0.0})
    assert grid.seed == 1 and "cutout" not in grid.summary.text()
    grid.set_images(np.zeros((0, 3, 8, 8), np.uint8))
    assert grid.tiles() == [] and grid.preview is None


def test_describe_names_every_key_that_is_on():
    assert describe(AUGMENT_DEFAULTS) == ""
    assert describe({"vflip": 1.0, "noise_std": 0.05, "token_dropout": 0.2}) == \
        "vertical flip 100% · noise σ 0.05"


def test_augmentation_grid_on_greyscale_shows_the_flip(qtbot):
    images = np.stack([picture("cross", i, channels=1) for i in range(2)])
    grid = AugmentationGrid(copies=3)
    qtbot.addWidget(grid)
    grid.set_images(images)
    grid.set_options({**AUGMENT_DEFAULTS, "flip": 1.0})
    tiles = grid.findChildren(QLabel, "augmented")
    assert len(tiles) == 4
    flipped = np.ascontiguousarray(images[1][..., ::-1])
    assert tiles[2].pixmap().toImage() == tile_pixmap(flipped).toImage()
