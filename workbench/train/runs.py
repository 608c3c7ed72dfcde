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
    origin.json         {"project_file": path of the project file that made it, relative to
                        the run folder}; absent for an untitled project's runs
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.core import atomic, files
from workbench.core import project as project_file
from workbench.train.checkpoint import CheckpointError, load_tensors, save_tensors
from workbench.train.events import Event, _clean

STATE_FILE = "last.state.pt"
EVENTS_LIMIT = 1024 * 1024 * 1024  # metrics.jsonl: ~200 bytes an epoch; a gigabyte is no run's log


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


ORIGIN_FILE = "origin.json"


def write_origin(folder: Path, project_path: str | Path | None) -> None:
    """Record which project file made the run: several projects saved in one folder share its
    `runs/`, and each must list (and export) only its own. Relative to the run, so a folder
    moved whole keeps it."""
    if project_path is None:
        return
    rel = os.path.relpath(Path(project_path).resolve(), Path(folder).resolve())
    atomic.write_text(Path(folder) / ORIGIN_FILE, json.dumps({"project_file": rel}) + "\n")


def made_by(folder: str | Path, project_path: str | Path | None) -> bool:
    """Was the run made by the project file `project_path`? A run that does not say (made by
    an older version, or unreadable) counts as anyone's, so it is never hidden."""
    path = Path(folder) / ORIGIN_FILE
    if project_path is None or not path.exists():
        return True
    try:
        doc = files.load_json(path, what="run origin")
    except files.FileRefused:
        return True
    rel = doc.get("project_file") if isinstance(doc, dict) else None
    if not isinstance(rel, str):
        return True
    return (Path(folder) / rel).resolve() == Path(project_path).resolve()


def move_runs(src: Path, dst: Path, project_path: str | Path | None = None) -> list[Path]:
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
        write_origin(target, project_path)
        moved.append(target)
    try:
        src.rmdir()
    except OSError:
        pass  # something else is in there: leave it
    return moved


def check_new_run_folder(folder: str | Path, overwrite: bool = False) -> bool:
    """May a new run be written into `folder`? Raises CheckpointError when not; True when an
    earlier run there is to be deleted first (overwrite). A folder that holds files but is
    not a run folder is never deleted, whatever `overwrite` says."""
    folder = Path(folder)
    if not folder.exists():
        return False
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: exists and is not a folder")
    if not any(folder.iterdir()):
        return False
    if not (folder / "project.wbproj").is_file():
        raise CheckpointError(f"{folder}: holds other files and is not a run folder; choose a "
                              f"new or empty folder")
    if not overwrite:
        raise CheckpointError(f"{folder}: already holds a run; continue it with --resume, or "
                              f"replace it with --force")
    return True


def clear_run_folder(folder: Path) -> None:
    """Delete an earlier run (see check_new_run_folder) so the new one starts from nothing."""
    shutil.rmtree(folder)


class EventLog:
    """metrics.jsonl: one JSON line per event, written at epoch ends and other non-step events
    (step events wait in memory until then, 256 at most). Each write adds whole lines or
    nothing, so a crash or a full disk never leaves a line cut in half. After a failed write
    the log stops (the error is reported once, by the write that failed)."""

    def __init__(self, folder: Path):
        self.file = atomic.AppendFile(folder / "metrics.jsonl")
        self.pending: list[str] = []
        self.broken = False

    def write(self, event: Event) -> None:
        if self.broken:
            return
        self.pending.append(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
        if event.kind != "step" or len(self.pending) >= 256:
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.broken:
            return
        data, self.pending = "".join(self.pending).encode("utf-8"), []
        try:
            self.file.append(data)
        except OSError:
            self.broken = True
            raise

    def close(self) -> None:
        try:
            self.flush()
        except OSError:
            pass  # the run's end is reported already; the lines so far are whole
        finally:
            self.file.close()


def read_event_lines(folder: str | Path, warnings: list[str] | None = None) -> list[tuple[bytes, dict]]:
    """(raw line, event) for each readable line of metrics.jsonl. A line that is not a JSON
    object (binary garbage, half a line left by an older version or another program) is
    skipped, with one warning for all of them appended to `warnings`."""
    path = Path(folder) / "metrics.jsonl"
    if not path.exists():
        return []
    try:
        raw = files.read_regular_bytes(path, EVENTS_LIMIT, "event log")
    except files.FileRefused as exc:
        if warnings is not None:
            warnings.append(f"{path}: unreadable ({exc.why}), no curves")
        return []
    out, bad = [], []
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            event = files.parse_json(line.decode("utf-8"), str(path))
        except (ValueError, files.FileRefused):  # not JSON, not UTF-8, or nested too deep
            event = None
        if isinstance(event, dict) and _whole(event.get("epoch", 0)) and _whole(event.get("step", 0)):
            out.append((line, event))
        else:
            bad.append(number)
    if bad and warnings is not None:
        what = (f"line {bad[0]} is not a JSON event" if len(bad) == 1 else
                f"{len(bad)} lines are not JSON events (first: line {bad[0]})")
        warnings.append(f"{path}: {what}, skipped")
    return out


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_events(folder: str | Path, warnings: list[str] | None = None) -> list[dict]:
    """The events of metrics.jsonl, oldest first; unreadable lines skipped (see above)."""
    return [event for _, event in read_event_lines(folder, warnings)]


@dataclass
class RunRecord:
    """What a run folder says about its run, for lists and comparisons (see `read_run`)."""
    folder: Path
    summary: dict                    # summary.json; {} while running, or when unreadable
    epochs: list[dict]               # the epoch events of metrics.jsonl (empty unless asked)
    warnings: list[str]              # what could not be read, one line each

    @property
    def status(self) -> str:
        """completed / early_stopped / stopped / failed from the summary; else running (an
        event log but no summary yet) or empty."""
        status = self.summary.get("status")
        if isinstance(status, str) and status:
            return status
        return "running" if (self.folder / "metrics.jsonl").exists() else "empty"

    @property
    def has_weights(self) -> bool:
        return (self.folder / "best.pt").exists() or (self.folder / "last.pt").exists()

    def split(self, name: str) -> dict:
        """The summary's metrics of one split (train, val, test); {} when absent."""
        value = self.summary.get(name)
        return value if isinstance(value, dict) else {}


def read_run(folder: str | Path, events: bool = False) -> RunRecord:
    """Read a run folder without ever raising: an unreadable summary.json or event log
    becomes a warning. `events=True` also reads the epoch events (curves)."""
    folder = Path(folder)
    warnings: list[str] = []
    summary: dict = {}
    path = folder / "summary.json"
    try:
        loaded = files.load_json(path, what="run summary") if path.exists() else {}
        if isinstance(loaded, dict):
            summary = loaded
        else:
            warnings.append(f"{path}: not a JSON object, ignored")
    except files.FileRefused as exc:
        warnings.append(f"{path}: unreadable ({exc.why}), ignored")
    epochs = [e for e in read_events(folder, warnings) if e.get("kind") == "epoch"] if events else []
    return RunRecord(folder, summary, epochs, warnings)


def write_summary(folder: Path, summary: dict) -> None:
    atomic.write_text(folder / "summary.json", json.dumps(_clean(summary), indent=2) + "\n")


def save_state(folder: Path, state: dict) -> None:
    save_tensors(state, folder / STATE_FILE)


def load_state(folder: str | Path) -> dict:
    path = Path(folder) / STATE_FILE
    if not path.exists():
        raise CheckpointError(f"{folder}: cannot resume, no {STATE_FILE} (the run never finished an epoch)")
    state = load_tensors(path, "training state")
    if not isinstance(state, dict) or "optimizer" not in state or "rng" not in state:
        raise CheckpointError(f"{path}: not a training state (no optimizer or generator state)")
    return state
