"""The export formats, by name, in menu order: what the CLI's --format, its help, the app's
Export dialog and `export_run` all read.

A format is one record and one `register` call (like a node spec in `workbench.core.catalog`):
its `write(run, target, options)` writes the artefact at `target` and verifies what it wrote
there. For a folder format `target` is a fresh temp folder that `export_run` puts in place whole
afterwards; a file format writes through the atomic writer itself (verified under its temp
name or from memory, then renamed). This module stays cheap to import: writers import their
exporter when called.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from workbench.export.report import ExportError, ExportReport

# Options a format may accept; `export_run` refuses one the format does not list.
PRUNE, QUANTIZE, PREPROCESSING, ZIP, CLUSTER = "prune", "quantize", "with_preprocessing", "zip", "cluster"


@dataclasses.dataclass
class Options:
    quantize: str | None = None
    with_preprocessing: bool = False
    zip_bundle: bool | None = None
    nproc_per_node: int = 1
    nnodes: int = 1
    data: object = None            # the test split (x, y) for scoring a quantised model, or None


@dataclasses.dataclass(frozen=True)
class ExportFormat:
    name: str                       # the CLI's --format value
    label: str                      # the app's list
    suffix: str                     # a file's default suffix ("" for a folder)
    folder: bool                    # writes a folder (put in place whole) rather than one file
    write: Callable[..., ExportReport]   # (run: RunInfo, target: Path, options: Options)
    verify: str                     # how what it wrote is checked before it is put in place (help, tooltip)
    help: str                       # one phrase for `workbench export --help`
    options: frozenset[str] = frozenset({PRUNE})

    def default_path(self, folder: Path, name: str, zipped: bool = False) -> Path:
        if self.folder:
            return folder / (f"{name}-{self.name}" + (".zip" if zipped and ZIP in self.options else ""))
        return folder / f"{name}{self.suffix}"


_FORMATS: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat, replace: bool = False) -> ExportFormat:
    if not fmt.name.replace("_", "").replace("-", "").isalnum():
        raise ExportError(f"export format {fmt.name!r} must be a plain name")
    if fmt.name in _FORMATS and not replace:
        raise ExportError(f"export format '{fmt.name}' is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    _FORMATS.pop(name, None)


def all_formats() -> list[ExportFormat]:
    return list(_FORMATS.values())


def names() -> list[str]:
    return list(_FORMATS)


def get(name: str) -> ExportFormat:
    if name not in _FORMATS:
        raise ExportError(f"unknown format '{name}'; choose one of: {', '.join(_FORMATS)}")
    return _FORMATS[name]


def accepting(option: str) -> list[str]:
    """The formats that take `option`, for the message that refuses it elsewhere."""
    return [f.name for f in _FORMATS.values() if option in f.options]


# -- the built-in formats -------------------------------------------------------------------

def _beside(report: ExportReport, run, path: Path) -> ExportReport:
    """A single-file model gets the preprocessing a client replays, beside it."""
    if report.passed and run.preprocessing:
        report.add_path(run.write_preprocessing(path.with_name(path.stem + ".preprocessing.json")))
    return report


def _onnx(run, path: Path, o: Options) -> ExportReport:
    from workbench.export import compress
    from workbench.export.onnx_export import export_onnx
    report = export_onnx(run.model, path, metadata=run.metadata())
    if o.with_preprocessing and report.passed:
        from workbench.export.preprocess_onnx import add_preprocessing
        report.merge(add_preprocessing(run, path, path.with_name(path.stem + ".raw.onnx")), "preprocessing")
    if o.quantize and report.passed:
        q = path.with_name(path.stem + ".int8.onnx")
        report.compression.append(compress.quantize_and_score(run, path, q, o.data))
        report.add_path(q)
    return _beside(report, run, path)


def _torchscript(run, path: Path, o: Options) -> ExportReport:
    from workbench.export.torchscript import export_torchscript
    return _beside(export_torchscript(run.model, path, metadata=run.metadata()), run, path)


def _pt2(run, path: Path, o: Options) -> ExportReport:
    from workbench.export.pt2 import export_pt2
    return _beside(export_pt2(run.model, path, metadata=run.metadata()), run, path)


def _python(run, folder: Path, o: Options) -> ExportReport:
    from workbench.export.python_code import write_python
    return write_python(run, folder)


def _bundle(run, folder: Path, o: Options) -> ExportReport:
    from workbench.export import compress
    from workbench.export.bundle import write_bundle
    quantize = (lambda fp32, q: compress.quantize_and_score(run, fp32, q, o.data)) if o.quantize else None
    return write_bundle(run, folder, with_preprocessing=o.with_preprocessing, quantize=quantize,
                        zip_bundle=False)


def _cluster(run, folder: Path, o: Options) -> ExportReport:
    from workbench.export.cluster import write_cluster_bundle
    bundle = write_cluster_bundle(run.folder, folder, o.nproc_per_node, o.nnodes, checkpoint=run.checkpoint)
    report = dataclasses.replace(bundle.report, format="cluster", paths=[])
    for p in bundle.files:
        report.add_path(p)
    report.notes = ["", f"one node, {bundle.nproc_per_node} GPU(s):", "  " + bundle.commands["single_node"],
                    "", f"{bundle.multi_nodes} nodes (run on every node, NODE_RANK=0 on MASTER_ADDR):",
                    "  " + bundle.commands["multi_node"]]
    return report


register(ExportFormat("onnx", "ONNX (.onnx)", ".onnx", False, _onnx, "onnx.checker + onnxruntime vs PyTorch",
                      "onnx", frozenset({PRUNE, QUANTIZE, PREPROCESSING})))
register(ExportFormat("pt2", "torch.export (.pt2)", ".pt2", False, _pt2, "torch.export.load vs PyTorch",
                      "pt2 (torch.export)"))
register(ExportFormat("torchscript", "TorchScript (.pt, deprecated)", ".pt", False, _torchscript,
                      "torch.jit.load vs PyTorch", "torchscript"))
register(ExportFormat("python", "Python code (folder)", "", True, _python,
                      "model.py imported, weights.pt loaded, vs PyTorch", "python (model.py + train.py)"))
register(ExportFormat("bundle", "Deployment bundle (folder or .zip)", "", True, _bundle,
                      "onnxruntime vs PyTorch", "bundle (model.onnx + preprocessing.json + predict.py)",
                      frozenset({PRUNE, QUANTIZE, PREPROCESSING, ZIP})))
register(ExportFormat("cluster", "Cluster training bundle (folder)", "", True, _cluster,
                      "model.py imported, weights.pt loaded, vs PyTorch",
                      "cluster (train.py + torchrun scripts)", frozenset({CLUSTER})))
