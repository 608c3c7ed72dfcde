"""Tiny real runs of the bundled iris example, for the tests that compare runs: a project
saved in a folder, and runs of it under `<folder>/runs/` (a search trial one level deeper)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import DATA, EXAMPLES
from workbench.core import project as project_file


def iris_project(folder: Path) -> project_file.Project:
    """The iris example saved as `<folder>/iris.wbproj`, reading a copy of iris.csv beside it."""
    shutil.copy(DATA / "iris.csv", folder / "iris.csv")
    project = project_file.load(EXAMPLES / "iris-classifier" / "project.wbproj")
    project.data["path"] = "iris.csv"
    project.path = None   # saved below as a new file, its data path already relative to it
    project_file.save(project, folder / "iris.wbproj")
    return project


def train(project: project_file.Project, run: Path, *, lr: float, units: int | None = None,
          epochs: int = 2) -> Path:
    """One run of `project` (fc1 resized to `units`) into the folder `run`."""
    from workbench.data import DataSettings, prepare
    from workbench.train.trainer import Trainer
    project = project.copy()
    if units is not None:
        project.graph.set_param(project.graph.by_title("fc1").id, "out_features", units)
    data = prepare(DataSettings.from_dict(project.data), project.folder)
    result = Trainer(project, data, epochs=epochs, lr=lr, device="cpu", run_dir=run).run()
    assert result.ok, result.message
    return run


def trial(source: Path, search: Path, number: int, params: dict, project_path: Path) -> Path:
    """A search trial made of an existing run of `project_path`: `search/trial-<number>/` plus
    trial.json, its origin.json pointing at the project from its own (deeper) place."""
    from workbench.train.runs import write_origin
    folder = search / f"trial-{number}"
    shutil.copytree(source, folder)
    write_origin(folder, project_path)
    (folder / "trial.json").write_text(json.dumps(
        {"study": search.name, "number": number, "state": "COMPLETE", "params": params,
         "values": [0.5]}))
    return folder
