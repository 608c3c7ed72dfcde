"""What an exported model says about itself: class names, a preprocessing summary, the project
and the Workbench version (ONNX `metadata_props`, also written into bundles and code)."""
from __future__ import annotations

import json

from workbench import __version__
from workbench.core.compile import CompiledModel


def preprocessing_summary(preprocessing: dict | None) -> dict:
    """A short, human-readable digest of the fitted preprocessing (the full dict goes to
    preprocessing.json): which columns, and how each is turned into numbers."""
    if not preprocessing:
        return {}
    summary: dict = {}
    for key in ("task", "input_shape", "input_dtype", "target", "label_column", "text_column"):
        if key in preprocessing:
            summary[key] = preprocessing[key]
    columns = preprocessing.get("columns") or preprocessing.get("features")
    if isinstance(columns, list):
        summary["columns"] = [
            {k: c[k] for k in ("name", "kind", "method", "type", "role") if isinstance(c, dict) and k in c}
            or c for c in columns][:200]
    text = preprocessing.get("text")
    if isinstance(text, dict):
        summary["text"] = {k: v for k, v in text.items() if k not in ("vocab", "vocabulary", "itos", "stoi")}
        vocab = text.get("vocab") or text.get("vocabulary") or text.get("itos")
        if vocab is not None:
            summary["text"]["vocab_size"] = len(vocab)
    return summary


def model_metadata(model: CompiledModel, *, project_name: str | None = None,
                   classes: list[str] | None = None, preprocessing: dict | None = None,
                   extra: dict | None = None) -> dict[str, str]:
    meta = {
        "workbench.version": __version__,
        "workbench.project": project_name or "",
        "workbench.inputs": json.dumps({n: {"shape": list(model.input_types[n].shape),
                                            "dtype": model.input_types[n].dtype}
                                        for n in model.input_names}),
        "workbench.outputs": json.dumps({n: {"shape": list(model.output_types[n].shape),
                                             "dtype": model.output_types[n].dtype}
                                         for n in model.output_names}),
    }
    if classes:
        meta["workbench.classes"] = json.dumps(list(classes))
    if preprocessing:
        meta["workbench.preprocessing"] = json.dumps(preprocessing_summary(preprocessing))
    for k, v in (extra or {}).items():
        meta[f"workbench.{k}"] = v if isinstance(v, str) else json.dumps(v)
    return meta
