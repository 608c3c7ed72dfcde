"""Checkpoints and run folders on disk: weights as a plain state dict plus a small JSON that
describes them, so a run can be reloaded (and exported) without pickled code.

A run folder holds: project.wbproj (the project as trained, data settings included),
metrics.jsonl, summary.json, and for each checkpoint NAME (best, last): NAME.pt (the
GraphModule's state_dict, loaded with weights_only=True) and NAME.json (meta: epoch, metrics,
the fitted preprocessing, class names, seed, Workbench version).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from workbench import __version__
from workbench.core import atomic
from workbench.core import project as project_file
from workbench.core.compile import CompiledModel, compile_model


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
    """Write NAME.pt and NAME.json atomically (temp file, then rename). `model` is a module or
    a state dict already taken (the trainer keeps snapshots of epochs it has not written yet)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.pt"
    tmp = folder / f".{name}.pt.tmp"
    items = model.items() if isinstance(model, dict) else model.state_dict().items()
    state = {k: v.detach().to("cpu") for k, v in items}
    torch.save(state, tmp)
    tmp.replace(weights)
    meta = {"workbench_version": __version__, **meta}
    atomic.write_text(folder / f"{name}.json", json.dumps(meta, indent=2) + "\n")
    return weights


def load_checkpoint(folder: Path, name: str = "best") -> tuple[dict, dict]:
    """(state_dict, meta); never unpickles anything but tensors."""
    weights, meta_path = Path(folder) / f"{name}.pt", Path(folder) / f"{name}.json"
    if not weights.exists():
        raise CheckpointError(f"{weights}: no such checkpoint")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a weights file
        raise CheckpointError(f"{weights}: not a readable checkpoint ({str(exc).splitlines()[0]})") from None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: unreadable ({exc})") from None
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
    model = compile_model(project.graph, seed=int(project.training.get("seed", 0)),
                          class_name=project.name)
    try:
        model.module.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder / (name + '.pt')}: does not fit the project's graph "
                              f"({str(exc).splitlines()[0]})") from None
    model.module.eval()
    return LoadedRun(folder, project, model, meta)
