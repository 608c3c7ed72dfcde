"""Keeping a run's weights in the project (`workbench train --keep-weights`, and the app later):
the run's final model (its best epoch when the project restores the best, else the last) becomes
the project's own weights, so an imported model fine-tuned once is exported or fine-tuned again
from the project itself, without its run folder."""
from __future__ import annotations

from pathlib import Path

from workbench.core import project as project_file
from workbench.core import weights
from workbench.core.compile import CompileError, compile_model


class KeepError(Exception):
    """The run's weights cannot be kept in this project; one line."""


def keep_weights(project: project_file.Project, result) -> Path:
    """Write `result.model`'s weights (a RunResult of that project) to the project's weights
    file and save the project: both atomically, the weights first. The weights must fit the
    project's graph as it is now (it may have been edited since the run started): a node that
    no longer fits is refused, nothing written. Returns the weights file."""
    if project.path is None:
        raise KeepError("the project has no file yet: save it before keeping a run's weights")
    if result.model is None or not result.epochs_run:
        raise KeepError(f"{project.path}: the run finished no epoch: no weights to keep")
    tensors = weights.extract(result.model, project.graph)
    try:
        model = compile_model(project.graph, seed=0, class_name=project.name)
    except CompileError as exc:
        raise KeepError(f"{project.path}: the model cannot be compiled: {exc}") from None
    problems = weights.apply(model, project.graph, tensors) + weights.unstored(model, project.graph, tensors)
    if problems:
        raise KeepError(f"{project.path}: the run's weights do not fit the project as it is now: "
                        f"{problems[0]}; nothing was written")
    try:
        path = weights.save(project, tensors)
        project_file.save(project, project.path)
    except weights.WeightsError as exc:
        raise KeepError(str(exc)) from None
    return path
