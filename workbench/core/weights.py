"""A project's own weights: a safetensors file beside the `.wbproj`, named in it.

Imported models (and, later, trained ones) carry weights before any run. They live in
safetensors because it is data only: loading it cannot run code, unlike a pickle. Tensors
are keyed `"<node id>.<state_dict key>"`, so a node keeps its weights when others are added,
removed or renamed, and a node whose shape changed is named rather than silently re-shaped.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from workbench.core import atomic

SUFFIX = ".weights.safetensors"


class WeightsError(Exception):
    """The project's weights cannot be used; the message names the file."""


def weights_path(project_path: str | os.PathLike) -> Path:
    path = Path(project_path)
    return path.with_name(path.stem + SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(project, tensors: dict[str, torch.Tensor], path: str | os.PathLike | None = None) -> Path:
    """Write `tensors` atomically and record the file in `project.extra["weights"]`; the
    caller saves the project file afterwards (its reference then matches the weights)."""
    from safetensors.torch import save_file
    if path is None:
        if project.path is None:
            raise WeightsError("the project has no file yet: save it before its weights")
        path = weights_path(project.path)
    path = Path(path)
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic.atomic_path(path) as tmp:
        save_file(plain, str(tmp))
    # Relative to the project's file; a project with no file yet records where the weights are
    # (its folder is not known until it is saved, and an absolute name is never rebased).
    name = (os.path.relpath(path, project.path.parent).replace(os.sep, "/") if project.path is not None
            else str(path.resolve()))
    project.extra["weights"] = {"file": name, "sha256": _sha256(path)}
    return path


def file_of(project) -> Path | None:
    ref = project.extra.get("weights")
    if ref is None:
        return None
    name = ref.get("file") if isinstance(ref, dict) else None
    if not isinstance(name, str) or not name:
        raise WeightsError(f"{project.path or project.name}: \"weights\" must name a file")
    return project.folder / name


def load(project) -> dict[str, torch.Tensor] | None:
    """The project's tensors, or None when it has none. Never unpickles: a file that is not
    safetensors, or whose checksum differs from the one recorded, is refused."""
    path = file_of(project)
    if path is None:
        return None
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    if not path.is_file():
        raise WeightsError(f"{path}: the project's weights file is missing")
    expected = project.extra["weights"].get("sha256")
    if isinstance(expected, str) and expected and _sha256(path) != expected:
        raise WeightsError(f"{path}: the weights file was changed after the project was saved "
                           "(its checksum differs)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a safetensors weights file ({' '.join(str(exc).split())[:200]})") from None


def extract(model, graph) -> dict[str, torch.Tensor]:
    """Every compiled node's state, keyed by node id (see the module docstring)."""
    out = {}
    for node_id, name in model.submodules.items():
        for key, value in getattr(model.module, name).state_dict().items():
            out[f"{node_id}.{key}"] = value.detach().clone()
    return out


def apply(model, graph, tensors: dict[str, torch.Tensor]) -> list[str]:
    """Copy `tensors` into the compiled model. A node whose weights no longer fit (its width
    was changed, it is new) keeps its fresh initialisation; each such node is one line in the
    returned list, for the user."""
    problems = []
    by_node: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        node_id, _, rest = key.partition(".")
        by_node.setdefault(node_id, {})[rest] = value
    for node_id, name in model.submodules.items():
        given = by_node.get(node_id)
        if not given:
            continue
        module = getattr(model.module, name)
        own = module.state_dict()
        label = graph.nodes[node_id].label() if node_id in graph.nodes else node_id
        wrong = [k for k, v in own.items() if k in given and tuple(given[k].shape) != tuple(v.shape)]
        missing = [k for k in own if k not in given]
        if wrong:
            k = wrong[0]
            problems.append(f"{label}: stored {k} has shape {tuple(given[k].shape)}, the node now "
                            f"needs {tuple(own[k].shape)}; it starts from fresh weights")
            continue
        if missing:
            problems.append(f"{label}: the stored weights lack {', '.join(missing)}; it starts "
                            "from fresh weights")
            continue
        with torch.no_grad():
            for k, v in own.items():
                v.copy_(given[k].to(v.dtype))
    return problems


def unstored(model, graph, tensors: dict[str, torch.Tensor]) -> list[str]:
    """Nodes with weights of their own that `tensors` holds nothing for (added since the
    weights were saved, like a new head): `apply` leaves them as initialised. One line each."""
    stored = {key.partition(".")[0] for key in tensors}
    lines = []
    for node_id, name in model.submodules.items():
        if node_id not in stored and getattr(model.module, name).state_dict():
            label = graph.nodes[node_id].label() if node_id in graph.nodes else node_id
            lines.append(f"{label}: not in the project's weights (a new node); it starts from "
                         "fresh weights")
    return lines
