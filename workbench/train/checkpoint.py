"""Checkpoints and run folders on disk: weights as a plain state dict plus a small JSON that
describes them, so a run can be reloaded (and exported) without pickled code.

A run folder holds: project.wbproj (the project as trained, data settings included),
metrics.jsonl, summary.json, and for each checkpoint NAME (best, last): NAME.pt (the
GraphModule's state_dict, loaded with weights_only=True) and NAME.json (meta: epoch, metrics,
the fitted preprocessing, class names, seed, Workbench version).
"""
from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from workbench import __version__
from workbench.core import atomic, files
from workbench.core import project as project_file
from workbench.core.compile import CompiledModel, compile_model
from workbench.core.training_settings import TrainingSettings, TrainingSettingsError


class CheckpointError(Exception):
    """A run folder or checkpoint that cannot be used; one line naming the file."""


@dataclass
class LoadedRun:
    folder: Path
    project: project_file.Project
    model: CompiledModel          # weights loaded, in eval mode
    meta: dict                    # NAME.json

    @property
    def preprocessing(self) -> dict:
        return self.meta.get("preprocessing", {})

    @property
    def classes(self) -> list[str] | None:
        return self.meta.get("classes")


def save_checkpoint(folder: Path, name: str, model: torch.nn.Module | dict, meta: dict) -> Path:
    """Write NAME.pt and NAME.json, each atomically. `model` is a module or a state dict already
    taken (the trainer keeps snapshots of epochs it has not written yet)."""
    weights = folder / f"{name}.pt"
    items = model.items() if isinstance(model, dict) else model.state_dict().items()
    save_tensors({k: v.detach().to("cpu") for k, v in items}, weights)
    meta = {"workbench_version": __version__, **meta}
    atomic.write_text(folder / f"{name}.json", json.dumps(meta, indent=2) + "\n")
    return weights


def save_tensors(obj, path: Path) -> None:
    """torch.save through the atomic writer: `path` holds the old file or the whole new one.
    torch reports a full disk as a RuntimeError from its C++ writer; it becomes an OSError
    naming the path, so every caller reports it like any other failed write."""
    try:
        with atomic.atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except RuntimeError as exc:
        raise OSError(f"{path}: could not be written ({_first_line(exc)}; is the disk full?)") from None


def load_tensors(path: Path, what: str = "checkpoint"):
    """torch.load(weights_only=True) with its failures as one CheckpointError naming the file."""
    try:
        if files.check_regular(path, what).st_size == 0:
            raise CheckpointError(f"{path}: the file is empty (0 bytes), not a {what}")
        return torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except files.FileRefused as exc:  # a FIFO or device would block or never end
        raise CheckpointError(str(exc)) from None
    except Exception as exc:  # corrupt, truncated, not a weights file, or unsafe
        raise CheckpointError(f"{path}: not a readable {what} ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    """torch's reason in one line, without its advice to retry with weights_only=False: a file
    that holds pickled objects is refused, never loaded another way."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in text.lower():
        found = re.search(r"GLOBAL ([\w.]+)", text)
        named = f", here {found.group(1)}" if found else ""
        return (f"it contains objects that are not plain tensors{named}; Workbench loads "
                f"only tensors and numbers")
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    return line[:300] or type(exc).__name__


def load_checkpoint(folder: Path, name: str = "best") -> tuple[dict, dict]:
    """(state_dict, meta); never unpickles anything but tensors."""
    weights, meta_path = Path(folder) / f"{name}.pt", Path(folder) / f"{name}.json"
    if not weights.exists():
        raise CheckpointError(f"{weights}: no such checkpoint")
    state = load_tensors(weights)
    if not isinstance(state, dict):
        raise CheckpointError(f"{weights}: not a checkpoint (no state dict of named tensors)")
    try:
        meta = files.load_json(meta_path, what="checkpoint description") if meta_path.exists() else {}
    except files.FileRefused as exc:
        raise CheckpointError(f"{meta_path}: unreadable ({exc.why})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_path}: expected a JSON object")
    return state, meta


def load_run(folder: str | Path, name: str = "best") -> LoadedRun:
    """Rebuild a trained model from a run folder: its project, then its weights."""
    folder = Path(folder)
    if not (folder / "project.wbproj").exists():
        raise CheckpointError(f"{folder}: not a run folder (no project.wbproj)")
    project = project_file.load(folder / "project.wbproj")
    if not (folder / f"{name}.pt").exists() and name == "best" and (folder / "last.pt").exists():
        name = "last"
    state, meta = load_checkpoint(folder, name)
    try:
        seed = TrainingSettings.from_dict(project.training).seed
    except TrainingSettingsError as exc:
        raise CheckpointError(f"{folder / 'project.wbproj'}: {exc}") from None
    model = compile_model(project.graph, seed=seed, class_name=project.name)
    try:
        model.module.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder / (name + '.pt')}: does not fit the project's graph "
                              f"({_first_line(exc)})") from None
    model.module.eval()
    return LoadedRun(folder, project, model, meta)
