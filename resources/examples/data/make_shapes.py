"""Regenerate the bundled image-folder example data set, shapes/<class>/*.png (seeded).

    PYTHONPATH=. .venv/bin/python resources/examples/data/make_shapes.py
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from workbench.data.shapes import make_shapes  # noqa: E402

if __name__ == "__main__":
    out = HERE / "shapes"
    shutil.rmtree(out, ignore_errors=True)
    make_shapes(out, per_class=120, size=32, seed=18)
    print(f"wrote {sum(1 for _ in out.rglob('*.png'))} images to {out}")
