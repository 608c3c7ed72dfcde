"""The bundle's `predict.py`, as source: one module that both the bundle (which writes it) and
the ONNX preprocessing (which runs its `raw_columns` to verify a raw-input model) read, so
neither imports the other."""
from __future__ import annotations

from workbench.export.python_code import image_decode_source, template


def predict_source(raw_inputs: bool = False) -> str:
    preprocess = template("preprocess.py").strip() + "\n\n\n" + image_decode_source()
    return (template("predict.py").replace("__PREPROCESS__", preprocess)
            .replace('"__MODEL__"', '"model.onnx"').replace("__RAW_INPUTS__", str(bool(raw_inputs))))
