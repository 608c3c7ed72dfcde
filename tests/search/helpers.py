"""A searched iris project: the bundled example with a poor learning rate (3e-4), a few
epochs, and a space over the learning rate, the first layer's width and how often the
middle block (fc2 → relu2) repeats."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.iris_runs import iris_project
from workbench.core import project as project_file
from workbench.core import search_space as ss

ROOT = Path(__file__).resolve().parents[2]

SPACE = {"objective": "val_accuracy", "trials": 6, "space": [
    {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.1, "log": True},
    {"name": "width", "kind": "int", "node": "n2", "param": "out_features", "low": 8, "high": 64},
    {"name": "depth", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 2},
]}


def searched_project(folder: Path, space: dict | None = None, epochs: int = 6) -> Path:
    project = iris_project(folder)
    project.graph.set_param("n10", "lr", 3e-4)
    project.training["epochs"] = epochs
    project.training["early_stopping"]["enabled"] = False
    project.training["device"] = "cpu"
    ss.store(project, ss.from_dict(space or SPACE))
    return project_file.save(project, folder / "iris.wbproj")


def workbench(*args, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "workbench", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
