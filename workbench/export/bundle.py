"""The deployment bundle: a folder (optionally zipped) that predicts from raw rows with only
numpy, pandas and onnxruntime installed.

    model.onnx           the verified ONNX model (int8 when quantised; raw columns in when the
                         preprocessing is built in)
    preprocessing.json   the fitted transforms: scaling statistics, category maps, vocabulary,
                         tokenizer settings, class names, how the raw file is read
    predict.py           python predict.py --data FILE -o OUT.csv
    README.md
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from workbench import __version__
from workbench.core.atomic import atomic_path, write_text
from workbench.export import escape
from workbench.export.onnx_export import export_onnx
from workbench.export.predict_script import predict_source  # noqa: F401 (bundle.predict_source)
from workbench.export.report import ExportReport


def write_bundle(run, out: str | Path, *, with_preprocessing: bool = False, quantize=None,
                 zip_bundle: bool | None = None) -> ExportReport:
    """`quantize`: None, or a function (fp32_path, int8_path) -> Compression that quantises and
    scores; the bundle then ships the int8 model. `out` ending in .zip (or zip_bundle) zips it."""
    out = Path(out)
    zip_it = out.suffix == ".zip" if zip_bundle is None else zip_bundle
    folder = out.with_suffix("") if zip_it and out.suffix == ".zip" else out
    folder.mkdir(parents=True, exist_ok=True)
    report = ExportReport("bundle")
    onnx_path = folder / "model.onnx"
    sub = export_onnx(run.model, onnx_path, metadata=run.metadata())
    report.merge(sub)
    if not sub.passed:
        return report
    report.paths.remove(onnx_path)
    if quantize is not None:  # quantise the plain model (scored on the test tensors) first
        q = folder / "model.int8.onnx"
        report.compression.append(quantize(onnx_path, q))
    if with_preprocessing:
        from workbench.export.preprocess_onnx import add_preprocessing
        raw = folder / "model.raw.onnx"
        pre_report = add_preprocessing(run, onnx_path, raw)
        report.merge(pre_report, "preprocessing")
        if pre_report.passed and quantize is not None:
            raw.unlink()
            pre_report = add_preprocessing(run, q, raw, onnx_reference=True)
            report.merge(pre_report, "preprocessing+int8")
        if pre_report.passed:
            raw.replace(onnx_path)
        report.paths = [p for p in report.paths if p != raw]
        with_preprocessing = pre_report.passed
        if quantize is not None:
            q.unlink(missing_ok=True)
    elif quantize is not None:
        q.replace(onnx_path)
    run.write_preprocessing(folder / "preprocessing.json")
    write_text(folder / "predict.py", predict_source(with_preprocessing))
    write_text(folder / "README.md", _readme(run, with_preprocessing, quantize is not None))
    for name in ("model.onnx", "preprocessing.json", "predict.py", "README.md"):
        report.add_path(folder / name)
    if zip_it:
        zpath = folder.with_suffix(".zip")
        with atomic_path(zpath) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for name in ("model.onnx", "preprocessing.json", "predict.py", "README.md"):
                z.write(folder / name, f"{folder.name}/{name}")
        report.add_path(zpath)
    return report


def _threshold_text(classes) -> str:
    if not classes or len(classes) != 2:
        return ""
    return f"""
A two-class model: `--threshold T` predicts {escape.markdown_code(classes[1])} when its probability
is at least T (default: the larger score, i.e. 0.5); a lower T finds more of a rare class at the
price of more false alarms. `--positive {escape.markdown_code(classes[0])}` thresholds the other class.
"""


def _readme(run, raw: bool, int8: bool) -> str:
    classes = run.classes
    return f"""# {escape.markdown(run.project.name)}: deployment bundle

Written by Workbench {__version__} from run {escape.markdown_code(run.folder.name)} (checkpoint \
{escape.markdown_code(run.checkpoint)}).

## Predict

    pip install numpy pandas onnxruntime
    python predict.py --data new_rows.csv -o predictions.csv

`new_rows.csv` is a raw file in the same format as the training file (same columns; a target
column, if present, is ignored). `predictions.csv` gets one `prediction` per row
({'the class name' if classes else 'the predicted value'}); `--scores` adds the raw outputs.
{_threshold_text(classes)}
## Files

- `model.onnx`: the model{' (int8 dynamic quantisation)' if int8 else ''}{', with the numeric scaling and category maps built in: it takes the raw columns' if raw else ''}.
  Verified with onnxruntime against PyTorch before it was written.
- `preprocessing.json`: the fitted preprocessing replayed by predict.py (scaling statistics,
  category maps, vocabulary and tokenizer settings, class names, how the file is read).
- `predict.py`: needs only numpy, pandas and onnxruntime.
{"- classes: " + ", ".join(escape.markdown_code(c) for c in classes) if classes else ""}
"""

