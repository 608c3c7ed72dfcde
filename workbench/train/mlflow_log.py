"""`--log mlflow`: a run in a local MLflow tracking store beside the project.

Store: `sqlite:///<project folder>/mlruns.db`, artifacts in `<project folder>/mlartifacts`, one
experiment per project file (named after its stem), one MLflow run per training (named after
the run folder; a resumed training is a new MLflow run, as MLflow params cannot change).
Logged: params (training settings and the caller's hparams), the per-epoch metrics with
step = epoch, the final figures, the run folder's summary.json and project.wbproj, and the
exported ONNX model as an MLflow model under `model/` (onnx flavour, so
`mlflow.onnx.load_model("runs:/<id>/model")` and `mlflow.pyfunc` load it).

Only the MlflowClient is used, never mlflow's process-wide active run or tracking URI, so
several trackers (a search's trials) and the rest of the process do not disturb each other.
The export needs workbench.export, which sits above this layer: the caller passes it in as
`exporter(run_folder, target_onnx_path)` (the CLI passes export.api.export_verified_onnx);
without one no model is logged.
"""
from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

from workbench.core import files
from workbench.train import tracking

STATUS = {"completed": "FINISHED", "early_stopped": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def tracking_uri(project_folder: str | Path) -> str:
    return "sqlite:///" + (Path(project_folder).resolve() / "mlruns.db").as_posix()


class MlflowLog:
    """Trainer callback (see tracking.py). `project_path` names the project file whose folder
    holds the store and whose stem names the experiment (default: the trainer's project; the
    CLI passes it when resuming, as the trainer's project is then the run folder's copy)."""

    def __init__(self, hparams: dict | None = None, *,
                 exporter: Callable[[Path, Path], None] | None = None,
                 project_path: str | Path | None = None):
        try:
            from mlflow.entities import Metric, Param
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise tracking.missing("mlflow") from None
        if any(importlib.util.find_spec(name) is None for name in ("sqlalchemy", "alembic")):
            raise tracking.missing("mlflow")  # the SQLite store's; mlflow-skinny brings neither
        for name in ("mlflow.store.db.utils", "alembic"):  # "creating tables" on every new store
            logging.getLogger(name).setLevel(logging.WARNING)
        self._client_class, self._metric, self._param = MlflowClient, Metric, Param
        self.hparams = dict(hparams or {})
        self.exporter = exporter
        self.project_path = Path(project_path) if project_path else None
        self.trainer = None
        self.client = None
        self.run_id: str | None = None
        self.uri: str | None = None
        self.warnings: list[str] = []
        self.done = False

    def bind(self, trainer) -> None:
        self.trainer = trainer

    def __call__(self, event) -> None:
        if self.done or (self.run_id is None and event.kind != "start"):
            return
        try:
            self._handle(event)
        except Exception as exc:  # noqa: BLE001 - logging never ends a training
            self.warnings.append(f"mlflow: {tracking.one_line(exc)}; stopped logging")
            self.done = True

    def _handle(self, event) -> None:
        if event.kind == "start":
            self._start(event)
        elif event.kind == "epoch":
            self._metrics(tracking.epoch_scalars(event), event.epoch)
        elif event.kind in ("end", "error"):  # an error may be followed by an end: the first wins
            self.done = True
            self._finish(event)

    def _start(self, event) -> None:
        folder = getattr(self.trainer, "folder", None)
        if folder is None:
            self.done = True
            return
        project = self.project_path or self.trainer.project.path
        home = project.parent if project is not None else Path(folder).parent.parent
        name = project.stem if project is not None else "untitled"
        self.uri = tracking_uri(home)
        self.client = self._client_class(tracking_uri=self.uri)
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment is not None else
                         self.client.create_experiment(name, (home.resolve() / "mlartifacts").as_uri()))
        tags = {"workbench.run_folder": str(Path(folder).resolve())}
        if event.epoch:
            tags["workbench.resumed_at_epoch"] = str(event.epoch)
        run = self.client.create_run(experiment_id, run_name=Path(folder).name, tags=tags)
        self.run_id = run.info.run_id
        values = [self._param(k, str(v)) for k, v in tracking.params(self.trainer, self.hparams).items()]
        for i in range(0, len(values), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=values[i:i + 100])

    def _metrics(self, values: dict[str, float], step: int) -> None:
        stamp = int(time.time() * 1000)
        metrics = [self._metric(k, v, stamp, step) for k, v in values.items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def _finish(self, event) -> None:
        folder = Path(self.trainer.folder)
        status = "failed" if event.kind == "error" else self._status(folder)
        try:
            self._metrics(tracking.final_scalars(event), event.epoch)
            for name in ("summary.json", "project.wbproj"):
                if (folder / name).is_file():
                    self.client.log_artifact(self.run_id, str(folder / name))
            if status != "failed" and self.exporter is not None and event.epoch:
                self._log_model(folder)
        finally:
            self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))

    def _status(self, folder: Path) -> str:
        try:
            summary = files.load_json(folder / "summary.json", what="run summary")
        except files.FileRefused:
            return "failed"
        return summary.get("status", "failed") if isinstance(summary, dict) else "failed"

    def _log_model(self, folder: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="workbench-mlflow-") as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            self.exporter(folder, onnx_path)
            try:
                import mlflow.onnx
                import onnx
            except ImportError:
                self.client.log_artifact(self.run_id, str(onnx_path), "model")
                self.warnings.append("mlflow: the onnx package is not installed: model/model.onnx "
                                     "is logged as a plain file, not an MLflow model")
                return
            model_dir = Path(tmp) / "model"
            mlflow.onnx.save_model(onnx.load(str(onnx_path)), str(model_dir),
                                   save_as_external_data=False)
            self.client.log_artifacts(self.run_id, str(model_dir), "model")
            self.client.set_tag(self.run_id, "workbench.model", f"runs:/{self.run_id}/model")

    def close(self) -> None:
        """Mark an MLflow run that never saw its end (an abort) as killed; idempotent."""
        if self.run_id is not None and not self.done:
            try:
                self.client.set_terminated(self.run_id, "KILLED")
            except Exception:  # noqa: BLE001 - the training's own outcome is what is reported
                pass
        self.done = True
