"""The bundle's `predict.py`, as source: one module that both the bundle (which writes it) and
the ONNX preprocessing (which runs its `raw_columns` to verify a raw-input model) read, so
neither imports the other."""
from __future__ import annotations

from workbench.export.python_code import template


def predict_source(raw_inputs: bool = False) -> str:
    preprocess = template("preprocess.py").strip() + "\n\n\n" + image_decode_source()
    return (template("predict.py").replace("__PREPROCESS__", preprocess)
            .replace('"__MODEL__"', '"model.onnx"').replace("__RAW_INPUTS__", str(bool(raw_inputs))))


def image_decode_source() -> str:
    """workbench/data/image_decode.py verbatim (the training code's own resize and
    normalisation), with Pillow imported only when an image is read: a bundle of a model
    without image inputs runs where Pillow is not installed."""
    from pathlib import Path

    source = (Path(__file__).parents[1] / "data" / "image_decode.py").read_text(encoding="utf-8")
    body = source.split('"""', 2)[2]  # its docstring stays in Workbench
    lazy = ("try:\n    from PIL import Image, ImageOps\n"
            "except ImportError:  # only models that read images need Pillow\n"
            "    Image = ImageOps = None\n")
    return ("# ---- image decoding (Workbench's workbench/data/image_decode.py) ----\n"
            + body.replace("import numpy as np\nfrom PIL import Image, ImageOps\n", lazy).strip()
            + "\n")
