"""A seeded image-folder data set of coloured shapes: the bundled example, tests and bench.

Shapes differ in outline, not colour (colours, sizes, positions and the background are drawn
independently of the class), and light noise is added, so a classifier must learn edges and
corners: a small CNN learns it well, a linear model on pixels does not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "cross", "square", "triangle")


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One RGB picture of `kind` on a random dark-or-light background."""
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    fg = tuple(int(v) for v in rng.integers(0, 256, 3))
    while sum(abs(a - b) for a, b in zip(bg, fg)) < 180:   # the shape must be visible
        fg = tuple(int(v) for v in rng.integers(0, 256, 3))
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    r = rng.uniform(0.28, 0.44) * size                       # half the shape's side
    cx, cy = (rng.uniform(r + 1, size - r - 1) for _ in range(2))
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif kind == "square":
        a = rng.uniform(-0.3, 0.3) + np.pi / 4       # near axis-aligned
        pts = [(cx + r * 1.1 * np.cos(a + k * np.pi / 2), cy + r * 1.1 * np.sin(a + k * np.pi / 2))
               for k in range(4)]
        d.polygon(pts, fill=fg)
    elif kind == "triangle":
        a = rng.uniform(-0.4, 0.4) - np.pi / 2       # pointing up, give or take
        pts = [(cx + r * np.cos(a + k * 2 * np.pi / 3), cy + r * np.sin(a + k * 2 * np.pi / 3))
               for k in range(3)]
        d.polygon(pts, fill=fg)
    elif kind == "cross":
        t = max(2.0, r * rng.uniform(0.3, 0.5))
        d.rectangle([cx - r, cy - t / 2, cx + r, cy + t / 2], fill=fg)
        d.rectangle([cx - t / 2, cy - r, cx + t / 2, cy + r], fill=fg)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    a = np.asarray(im, dtype=np.float32)
    a += rng.normal(0, 8, a.shape)                          # light sensor noise
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def make_shapes(root, per_class: int = 150, size: int = 32, seed: int = 0,
                classes=CLASSES) -> Path:
    """root/<class>/<class>_NNNN.png, the same files for the same seed."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for kind in classes:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw_shape(kind, size, rng).save(folder / f"{kind}_{i:04d}.png", optimize=True)
    return root
