"""The run folder around the checkpoints: where it goes, its event log, its summary, and the
training state that lets a run resume.

Layout (what `checkpoint.load_run` reads, plus what resuming needs):
    project.wbproj      the project as trained (overrides applied, data settings included)
    metrics.jsonl       one JSON line per event; a resumed run appends to it
    summary.json        {"train": {...}, "val": {...}, "test": {...}, "epoch": n, ...}
    best.pt/.json       weights + meta of the best epoch (by the monitored metric)
    last.pt/.json       weights + meta of the last good epoch
    last.state.pt       optimizer, schedule, early-stopping and random-generator state; plain
                        tensors and numbers only, so it too loads with weights_only=True
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch

from workbench.core import atomic
from workbench.core import project as project_file
from workbench.train.checkpoint import CheckpointError
from workbench.train.events import Event, _clean

STATE_FILE = "last.state.pt"


def new_run_folder(project: project_file.Project, root: str | Path | None = None) -> Path:
    """`<project folder>/runs/<YYYYmmdd-HHMMSS>/`, with a suffix if that second is taken."""
    base = Path(root) if root else project.folder / "runs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, i = base / stamp, 1
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            i += 1
            folder = base / f"{stamp}-{i}"


def move_runs(src: Path, dst: Path) -> list[Path]:
    """Move every run folder in `src` into `dst`: a project saved for the first time takes along
    the runs it made while untitled. Each run's project copy is re-saved in its new place, so
    relative data paths in it still point at the data. A name already taken gets a suffix."""
    moved: list[Path] = []
    if not src.is_dir() or src.resolve() == dst.resolve():
        return moved
    for run in sorted(p for p in src.iterdir() if (p / "project.wbproj").is_file()):
        target, i = dst / run.name, 2
        while target.exists():
            target, i = dst / f"{run.name}-{i}", i + 1
        try:
            project = project_file.load(run / "project.wbproj")
        except project_file.ProjectError:
            project = None  # moved as it is; the run was unreadable before too
        dst.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run), str(target))
        if project is not None:
            project_file.save(project, target / "project.wbproj")
        moved.append(target)
    try:
        src.rmdir()
    except OSError:
        pass  # something else is in there: leave it
    return moved


class EventLog:
    """metrics.jsonl: appended line by line, flushed at epoch ends (the file survives a crash)."""

    def __init__(self, folder: Path):
        self.file = open(folder / "metrics.jsonl", "a", encoding="utf-8")

    def write(self, event: Event) -> None:
        self.file.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
        if event.kind != "step":
            self.file.flush()

    def close(self) -> None:
        self.file.close()


def read_events(folder: str | Path) -> list[dict]:
    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_summary(folder: Path, summary: dict) -> None:
    atomic.write_text(folder / "summary.json", json.dumps(_clean(summary), indent=2) + "\n")


def read_summary(folder: str | Path) -> dict:
    path = Path(folder) / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None


def save_state(folder: Path, state: dict) -> None:
    tmp = folder / f".{STATE_FILE}.tmp"
    torch.save(state, tmp)
    tmp.replace(folder / STATE_FILE)


def load_state(folder: str | Path) -> dict:
    path = Path(folder) / STATE_FILE
    if not path.exists():
        raise CheckpointError(f"{folder}: cannot resume, no {STATE_FILE} (the run never finished an epoch)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable training state ({str(exc).splitlines()[0]})") from None
