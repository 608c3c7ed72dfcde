"""What an export reads from a trained run folder: the project as trained, the model with its
weights, the fitted preprocessing; and the run's test split for scoring a compressed model.

Kept apart from `api` so that a format (the cluster bundle loads a run itself) can use it without
importing the dispatcher that imports every format."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from workbench.core.atomic import write_text
from workbench.core.compile import CompiledModel
from workbench.export.metadata import model_metadata


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
        write_text(path, json.dumps(self.preprocessing, indent=1, ensure_ascii=False) + "\n")
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
    trainer did; None when the data file is not available."""
    from workbench.data import DataSettings, prepare
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
        if split is not None and len(split.y) and len(split.xs) == 1 and not split.streamed:
            return split.x, split.y
    return None


PROJECT_WEIGHTS = "project weights"   # RunInfo.checkpoint of an export from a project's own weights


def from_project(project) -> RunInfo:
    """A project that carries its own weights (an import, a kept run) as what an export reads,
    so it goes through the same verified writers as a trained run. Every node with weights must
    find them in the file: an export never ships freshly initialised layers unannounced.
    There is no fitted preprocessing (that lives in a run's checkpoint)."""
    from workbench.core import weights
    from workbench.core.compile import CompileError, compile_model
    from workbench.core.training_settings import TrainingSettings, TrainingSettingsError
    from workbench.export.report import ExportError
    where = project.path or project.name
    try:
        tensors = weights.load(project)
    except weights.WeightsError as exc:
        raise ExportError(str(exc)) from None
    if tensors is None:
        raise ExportError(f"{where}: the project has no weights of its own: export a trained run (--run RUNDIR)")
    try:
        seed = TrainingSettings.from_dict(project.training).seed
    except TrainingSettingsError as exc:
        raise ExportError(f"{where}: {exc}") from None
    try:
        model = compile_model(project.graph, seed=seed, class_name=project.name)
    except CompileError as exc:
        raise ExportError(f"{where}: the model cannot be compiled: {exc}") from None
    problems = weights.apply(model, project.graph, tensors) + weights.unstored(model, project.graph, tensors)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ExportError(f"{where}: the project's weights do not fit its graph: {problems[0]}{more}; "
                          "train it and export the run (--run RUNDIR)")
    model.module.eval()
    folder = project.path.parent if project.path is not None else Path.cwd()
    return RunInfo(folder, project, model, {"classes": None, "preprocessing": {}}, PROJECT_WEIGHTS)
