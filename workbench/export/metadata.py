"""What an exported model says about itself: class names, a preprocessing summary, the project
and the Workbench version (ONNX `metadata_props`, also written into bundles and code)."""
from __future__ import annotations

from workbench import __version__
from workbench.core.compile import CompiledModel
from workbench.export.escape import json_text, plain_text


def preprocessing_summary(preprocessing: dict | None) -> dict:
    """A short digest of the fitted preprocessing (the full dict goes to preprocessing.json):
    the input, each feature column and how it is encoded, the text settings, the target."""
    if not preprocessing:
        return {}
    p = preprocessing
    summary: dict = {"format": p.get("format"), "version": p.get("version"), "input": p.get("input"),
                     "target": p.get("target", {}).get("columns") if isinstance(p.get("target"), dict) else None}
    summary["features"] = [{"column": f.get("column"), "type": f.get("type"),
                            **({"categories": len(f["categories"])} if "categories" in f else {})}
                           for f in p.get("features") or []][:200]
    text = p.get("text")
    if isinstance(text, dict):
        summary["text"] = _text(text)
    if isinstance(p.get("inputs"), list):  # version 2: one digest per model input
        summary["inputs"] = [_input(e) for e in p["inputs"] if isinstance(e, dict)]
    return summary


def _text(text: dict) -> dict:
    out = {k: v for k, v in text.items() if k != "vocab"}
    out["vocab_size"] = len(text.get("vocab") or [])
    return out


def _input(e: dict) -> dict:
    """An input's digest; an image input says what a client must do to a picture: its size,
    channel order (C,H,W; L, RGB or RGBA), the 0..1 scaling and the per-channel mean/std."""
    out = {k: e.get(k) for k in ("name", "kind", "dtype", "shape")}
    if e.get("kind") == "text" and isinstance(e.get("text"), dict):
        out["text"] = _text(e["text"])
    elif e.get("kind") == "image" and isinstance(e.get("image"), dict):
        im = e["image"]
        out["image"] = {"column": im.get("column"), "size": im.get("size"), "mode": im.get("mode"),
                        "channels": im.get("channels"), "layout": "NCHW", "scale": "pixel / 255",
                        "mean": im.get("mean"), "std": im.get("std")}
    else:
        out["features"] = [{"column": f.get("column"), "type": f.get("type")}
                           for f in e.get("features") or []][:200]
    return out


def model_metadata(model: CompiledModel, *, project_name: str | None = None,
                   classes: list[str] | None = None, preprocessing: dict | None = None,
                   extra: dict | None = None) -> dict[str, str]:
    meta = {
        "workbench.version": __version__,
        "workbench.project": plain_text(project_name or ""),
        "workbench.inputs": json_text({n: {"shape": list(model.input_types[n].shape),
                                            "dtype": model.input_types[n].dtype}
                                        for n in model.input_names}),
        "workbench.outputs": json_text({n: {"shape": list(model.output_types[n].shape),
                                             "dtype": model.output_types[n].dtype}
                                         for n in model.output_names}),
    }
    if classes:
        meta["workbench.classes"] = json_text(list(classes))
    if preprocessing:
        meta["workbench.preprocessing"] = json_text(preprocessing_summary(preprocessing))
    for k, v in (extra or {}).items():
        meta[f"workbench.{plain_text(k)}"] = plain_text(v) if isinstance(v, str) else json_text(v)
    return meta
