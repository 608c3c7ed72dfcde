"""One entry for the CLI and the app: `export_run(run_folder, format, out_path, ...)`.

It loads a trained run (project + checkpoint), optionally prunes it, exports it in the asked
format, verifies the result (every format is reloaded and compared with PyTorch at other sizes)
and returns an `ExportReport`. The lower-level functions (export_onnx, export_torchscript,
export_pt2, write_model_code, write_bundle) take a CompiledModel, for the app's own use.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from workbench.core.compile import CompiledModel
from workbench.core.atomic import write_text as write_atomic
from workbench.export import compress
from workbench.export.metadata import model_metadata
from workbench.export.onnx_export import ExportError, export_onnx, ort_runner
from workbench.export.report import Compression, ExportReport

FORMATS = ("onnx", "torchscript", "pt2", "python", "bundle")


@dataclasses.dataclass
class RunInfo:
    """What an export needs from a run folder."""
    folder: Path
    project: object                    # workbench.core.project.Project (as trained)
    model: CompiledModel               # weights loaded, eval mode
    meta: dict
    checkpoint: str

    @property
    def classes(self) -> list[str] | None:
        return self.meta.get("classes")

    @property
    def preprocessing(self) -> dict:
        return self.meta.get("preprocessing") or {}

    @property
    def task(self) -> str:
        target = self.preprocessing.get("target") or {}
        return self.meta.get("task") or target.get("task") or (
            "classification" if self.classes else "regression")

    def write_preprocessing(self, path: Path) -> Path:
        """The fitted preprocessing as JSON (docs/preprocessing-format.md), what a client replays
        on raw rows: the same file beside a single-file model, in a bundle and with the code."""
        write_atomic(path, json.dumps(self.preprocessing, indent=1, ensure_ascii=False) + "\n")
        return path

    def metadata(self, **extra) -> dict[str, str]:
        return model_metadata(self.model, project_name=self.project.name, classes=self.classes,
                              preprocessing=self.preprocessing,
                              extra={"checkpoint": self.checkpoint, **extra})


def load(run_folder: str | Path, checkpoint: str = "best") -> RunInfo:
    from workbench.train.checkpoint import load_run
    run = load_run(run_folder, checkpoint)
    return RunInfo(Path(run_folder), run.project, run.model, run.meta, checkpoint)


def test_data(run: RunInfo, project_dir: str | Path | None = None):
    """The run's test split as (x tensor, y tensor), prepared by the data layer exactly as the
    trainer did; None when the data layer or the data file is not available."""
    try:
        from workbench.data import DataSettings, prepare
    except ImportError:
        return None
    settings = run.project.data
    if not settings or not settings.get("path"):
        return None
    for base in [run.folder, project_dir, getattr(run.project, "folder", None)]:
        if base is None:
            continue
        path = Path(settings["path"])
        if not path.is_absolute() and not (Path(base) / path).exists():
            continue
        try:
            data = prepare(DataSettings.from_dict(settings), Path(base))
        except Exception:  # noqa: BLE001 - the metric is then estimated without data
            continue
        split = getattr(data, "test", None)
        if split is None or len(split.y) == 0:
            split = getattr(data, "val", None)
        if split is not None and len(split.y):
            return split.x, split.y
    return None


def _outputs(module: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = module(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.detach().numpy()


def _fresh(model: CompiledModel, n: int = 256):
    from workbench.export import verify as V
    x = V.make_inputs(model, V.plan_axes(model), {"batch": n}, seed=123)
    return x[0]


def export_run(run_folder: str | Path, format: str, out_path: str | Path, *,  # noqa: A002
               quantize: str | None = None, prune: float | None = None,
               with_preprocessing: bool = False, checkpoint: str = "best",
               project_dir: str | Path | None = None, zip_bundle: bool | None = None) -> ExportReport:
    if format not in FORMATS:
        raise ExportError(f"unknown format '{format}'; choose one of: {', '.join(FORMATS)}")
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantisation '{quantize}'; only int8 is available")
    if quantize and format not in ("onnx", "bundle"):
        raise ExportError("--quantize int8 quantises the ONNX model: use it with --format onnx or bundle")
    if with_preprocessing and format not in ("onnx", "bundle"):
        raise ExportError("--with-preprocessing puts the preprocessing into the ONNX model: use it "
                          "with --format onnx or bundle")
    run = load(run_folder, checkpoint)
    out_path = Path(out_path)
    data = test_data(run, project_dir) if (quantize or prune) else None
    notes: list[str] = []
    if (quantize or prune) and data is None:
        notes.append("no test data available: the metric change is the share of fresh random inputs "
                     "on which the compressed model picks the same class as the original")
    compressions: list[Compression] = []
    model = run.model
    if prune:
        pruned, sparsity = compress.prune_module(model.module, float(prune))
        c = Compression("prune", float(prune), compress.deflated_size(model.module.state_dict()),
                        compress.deflated_size(pruned.state_dict()), sparsity=sparsity)
        _score(c, run, lambda x: _outputs(model.module, x), lambda x: _outputs(pruned, x), data, model)
        compressions.append(c)
        model = dataclasses.replace(model, module=pruned)
        run = dataclasses.replace(run, model=model)
    if format == "onnx":
        report = _onnx(run, out_path, with_preprocessing)
    elif format == "torchscript":
        from workbench.export.torchscript import export_torchscript
        report = export_torchscript(model, out_path, metadata=run.metadata())
    elif format == "pt2":
        from workbench.export.pt2 import export_pt2
        report = export_pt2(model, out_path, metadata=run.metadata())
    elif format == "python":
        from workbench.export.python_code import write_python
        report = write_python(run, out_path)
    else:
        from workbench.export.bundle import write_bundle
        report = write_bundle(run, out_path, with_preprocessing=with_preprocessing,
                              quantize=(lambda fp32, q: quantize_and_score(run, fp32, q, data))
                              if quantize else None, zip_bundle=zip_bundle)
    if quantize and format == "onnx" and report.passed:
        q = out_path.with_name(out_path.stem + ".int8.onnx")
        report.compression.append(quantize_and_score(run, out_path, q, data))
        report.add_path(q)
    if format in ("onnx", "torchscript", "pt2") and report.passed and run.preprocessing:
        report.add_path(run.write_preprocessing(out_path.with_name(out_path.stem + ".preprocessing.json")))
    report.compression = compressions + report.compression
    report.warnings += notes
    return report


def _onnx(run: RunInfo, out_path: Path, with_preprocessing: bool) -> ExportReport:
    report = export_onnx(run.model, out_path, metadata=run.metadata())
    if with_preprocessing and report.passed:
        from workbench.export.preprocess_onnx import add_preprocessing
        report.merge(add_preprocessing(run, out_path, out_path.with_name(out_path.stem + ".raw.onnx")),
                     "preprocessing")
    return report


def _score(c: Compression, run: RunInfo, original, compressed, data, model: CompiledModel) -> None:
    if data is not None:
        x, y = data
        c.metric, c.original_metric = compress.score(original(x), y.numpy(), run.task)
        _, c.compressed_metric = compress.score(compressed(x), y.numpy(), run.task)
    else:
        x = _fresh(model)
        c.metric, c.original_metric = "agreement_with_original", 1.0
        c.compressed_metric = compress.agreement(original(x), compressed(x))


def quantize_and_score(run: RunInfo, fp32: Path, q: Path, data) -> Compression:
    """Quantise `fp32` to `q` (int8 dynamic) and score both on the test split."""
    compress.quantize_onnx(fp32, q)
    c = Compression("int8", None, fp32.stat().st_size, q.stat().st_size)
    names = run.model.input_names
    f_run, q_run = ort_runner(fp32, names), ort_runner(q, names)
    _score(c, run, lambda x: f_run((x,))[0], lambda x: q_run((x,))[0], data, run.model)
    return c


def save_report(report: ExportReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
