"""One entry for the CLI and the app: `export_run(run_folder, format, out_path, ...)`.

It loads a trained run (project + checkpoint), optionally prunes it, asks the format's record
(`workbench.export.formats`) to write and verify the export, and returns an `ExportReport`.
Every format writes through the atomic writer: a file format itself, a folder format into a
temp folder that is put in place whole here, so a failure (a full disk, a kill) never leaves
a half-written export at the requested path. The lower-level functions (export_onnx,
export_torchscript, export_pt2, write_model_code, write_bundle) take a CompiledModel or a run.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from workbench.core.atomic import atomic_dir, atomic_path, write_text
from workbench.export import formats
from workbench.export.compress import prune_run, quantize_and_score  # noqa: F401 (api.quantize_and_score)
from workbench.export.formats import Options
from workbench.export.report import ExportError, ExportReport
from workbench.export.run import RunInfo, from_project, load, test_data  # noqa: F401 (the names callers use)

_REFUSALS = {
    formats.QUANTIZE: "--quantize int8 quantises the ONNX model",
    formats.PREPROCESSING: "--with-preprocessing puts the preprocessing into the ONNX model",
    formats.PRUNE: "--prune prunes the weights of a model exported from a run",
}


def export_run(run_folder: str | Path, format: str, out_path: str | Path, *,  # noqa: A002
               quantize: str | None = None, prune: float | None = None,
               with_preprocessing: bool = False, checkpoint: str = "best",
               project_dir: str | Path | None = None, zip_bundle: bool | None = None,
               nproc_per_node: int = 1, nnodes: int = 1) -> ExportReport:
    fmt = formats.get(format)
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantisation '{quantize}'; only int8 is available")
    for option, asked in ((formats.QUANTIZE, quantize), (formats.PREPROCESSING, with_preprocessing),
                          (formats.PRUNE, prune)):
        if asked and option not in fmt.options:
            raise ExportError(f"{_REFUSALS[option]}: use it with --format "
                              + " or ".join(formats.accepting(option)))
    run = load(run_folder, checkpoint)
    out_path = Path(out_path)
    data = test_data(run, project_dir) if (quantize or prune) else None
    notes: list[str] = []
    if (quantize or prune) and data is None:
        notes.append("no test data available: the metric change is the share of fresh random inputs "
                     "on which the compressed model picks the same class as the original")
    compressions = []
    if prune:
        run, pruned = prune_run(run, prune, data)
        compressions.append(pruned)
    options = Options(quantize=quantize, with_preprocessing=with_preprocessing, zip_bundle=zip_bundle,
                      nproc_per_node=nproc_per_node, nnodes=nnodes, data=data)
    report = _write_folder(fmt, run, out_path, options) if fmt.folder else _write_file(fmt, run, out_path, options)
    report.compression = compressions + report.compression
    report.warnings += notes
    return report


def export_project(project, format: str, out_path: str | Path) -> ExportReport:  # noqa: A002
    """Export a project from its own weights (no run): an imported model before any training,
    or one whose run was kept with `train --keep-weights`. Single-file formats only (a bundle,
    the Python code and the cluster bundle are built around a run's folder and preprocessing);
    verified like every export."""
    fmt = formats.get(format)
    if fmt.folder:
        single = ", ".join(f.name for f in formats.all_formats() if not f.folder)
        raise ExportError(f"--format {fmt.name} exports a trained run (--run RUNDIR); from the "
                          f"project's own weights: {single}")
    run = from_project(project)
    report = _write_file(fmt, run, Path(out_path), Options())
    if project.data:
        report.notes.append("note: exported from the project's weights: no preprocessing is written "
                               "(the fitted preprocessing lives in a run; export with --run RUNDIR "
                               "for it), so the model expects inputs already preprocessed")
    else:
        report.notes.append("note: a model-only project (no data settings): the model alone is "
                               "written, no preprocessing")
    return report


def _write_file(fmt, run: RunInfo, path: Path, options: Options) -> ExportReport:
    try:
        return fmt.write(run, path, options)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {_reason(exc)}") from None


def _write_folder(fmt, run: RunInfo, out: Path, options: Options) -> ExportReport:
    """Write into a temp folder beside the target, verify there, then put it in place whole
    (and zip it, for a format that zips). An existing folder is only replaced when everything
    in it is something this export writes again: pointing -o at a folder of your own files
    must not delete them."""
    zipped = formats.ZIP in fmt.options and (out.suffix == ".zip" if options.zip_bundle is None
                                             else options.zip_bundle)
    folder = out.with_suffix("") if zipped and out.suffix == ".zip" else out
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder}: exists and is not a folder; the {fmt.name} export writes a folder")
    tmp = None
    try:
        with atomic_dir(folder) as tmp:
            report = fmt.write(run, tmp, options)
            _refuse_foreign(folder, tmp, fmt)
            report.paths = [folder / p.relative_to(tmp) if p.is_relative_to(tmp) else p for p in report.paths]
            if zipped:
                zpath = folder.with_suffix(".zip")
                with atomic_path(zpath) as ztmp, zipfile.ZipFile(ztmp, "w", zipfile.ZIP_DEFLATED) as z:
                    for p in sorted(tmp.rglob("*")):
                        if p.is_file():
                            z.write(p, f"{folder.name}/{p.relative_to(tmp).as_posix()}")
                report.add_path(zpath)
    except ExportError as exc:  # say the folder asked for, not the temp folder it was written in
        raise ExportError(str(exc).replace(str(tmp), str(folder)) if tmp else str(exc)) from None
    except (OSError, RuntimeError) as exc:  # torch.save's C++ writer fails with RuntimeError
        raise ExportError(f"cannot write {folder}: {_reason(exc)}") from None
    return report


def _refuse_foreign(folder: Path, tmp: Path, fmt) -> None:
    if not folder.is_dir():
        return
    foreign = sorted(p.name for p in folder.iterdir() if not (tmp / p.name).exists())
    if foreign:
        raise ExportError(f"{folder}: holds files the {fmt.name} export does not write ({', '.join(foreign[:3])}"
                          f"{', …' if len(foreign) > 3 else ''}); choose a new or empty folder")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) if isinstance(exc, OSError) else None
    text = text or " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def save_report(report: ExportReport, path: str | Path) -> None:
    write_text(path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")



def export_verified_onnx(run_folder: str | Path, target: str | Path,
                         project_dir: str | Path | None = None) -> None:
    """A run's best weights as ONNX at `target`, for the experiment trackers (the `exporter` of
    workbench.train.mlflow_log): an export that fails its verification raises ExportError."""
    report = export_run(run_folder, "onnx", target, project_dir=project_dir)
    if not report.passed:
        raise ExportError(f"{Path(run_folder).name}: the ONNX export failed its verification")
