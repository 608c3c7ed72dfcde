"""The experiment trackers a run asked for (`--log tensorboard,mlflow`), built with what they
need from above the training layer: MLflow logs the run's verified ONNX export as its model.
`workbench train` and `workbench search` (one tracker set per trial) both build them here."""
from __future__ import annotations

from functools import partial
from pathlib import Path


def trackers_asked(values: list[str] | None) -> list[str]:
    """--log values, repeatable and comma-separated, each name once; ValueError on a bad name."""
    from workbench.train.tracking import NAMES
    names: list[str] = []
    for value in values or []:
        for name in (part.strip().lower() for part in value.split(",")):
            if name not in NAMES:
                raise ValueError(f"--log {name or repr(value)}: unknown tracker; choose "
                                 + " or ".join(NAMES))
            if name not in names:
                names.append(name)
    return names


def make_trackers(names: list[str], project_path, hparams: dict | None = None) -> list:
    """The trackers' callbacks; TrackingError (one line) when an extra is not installed.
    `hparams` (a search trial's values) are logged beside the training settings."""
    out = []
    for name in names:
        if name == "tensorboard":
            from workbench.train.tensorboard_log import TensorBoardLog
            out.append(TensorBoardLog(hparams=hparams))
        else:
            from workbench.export.api import export_verified_onnx
            from workbench.train.mlflow_log import MlflowLog
            folder = Path(project_path).parent if project_path else None
            out.append(MlflowLog(hparams=hparams,
                                 exporter=partial(export_verified_onnx, project_dir=folder),
                                 project_path=project_path))
    return out
