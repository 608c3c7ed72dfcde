"""Models from elsewhere (ONNX files, PyTorch modules, `.pt2` programs) as Workbench graphs
with their weights, checked against the source before they are kept.

`import_model` picks the importer from the source's form, so the CLI and the app's
File › Import Model… accept the same things; `write` puts the project and its weights on disk.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from workbench.importers.result import TOLERANCE, ImportError_, ImportResult

__all__ = ["TOLERANCE", "ImportError_", "ImportResult", "import_model", "write", "describe"]

# `file.py:Class` or `package.module:Class` (the class part a plain identifier, so a Windows
# drive letter `C:\model.onnx` is never taken for a spec)
_SPEC = re.compile(r"^(?P<where>.+):(?P<cls>[A-Za-z_][A-Za-z0-9_]*)$")

WHAT = ("an .onnx or .pt2 file, or a PyTorch module as file.py:Class or "
        "package.module:Class")


def import_model(source: str | os.PathLike, input_shape: tuple | None = None,
                 opset=None) -> ImportResult:
    """Import `source`: an `.onnx` file, a `.pt2` program (torch.export), or a module spec
    `file.py:Class` / `package.module:Class` with the `input_shape` of one sample (no batch).
    Raises ImportError_ (one line) for input that cannot be imported."""
    text = os.fspath(source)
    lower = text.lower()
    if lower.endswith(".onnx"):
        try:
            from workbench.importers.onnx_import import import_onnx
        except ModuleNotFoundError as exc:
            if exc.name != "workbench.importers.onnx_import":
                raise
            raise ImportError_(f"{text}: this Workbench cannot import ONNX files yet") from None
        return import_onnx(text) if opset is None else import_onnx(text, opset=opset)
    if lower.endswith(".pt2"):
        from workbench.importers.torch_import import import_pt2
        return import_pt2(text)
    if _SPEC.match(text):
        from workbench.importers.torch_import import import_module
        return import_module(text, input_shape)
    raise ImportError_(f"{text}: not a model Workbench can import (expected {WHAT})")


def write(result: ImportResult, path: str | os.PathLike, force: bool = False) -> Path:
    """Write the imported project at `path` and its weights beside it
    (`<stem>.weights.safetensors`), each atomically. An existing file is replaced only with
    `force`, so an import never overwrites a project by accident."""
    from workbench.core import project as project_file
    from workbench.core import weights

    path = Path(path)
    if path.suffix != project_file.SUFFIX:
        raise ImportError_(f"{path}: a project file must end in {project_file.SUFFIX}")
    tensors_at = weights.weights_path(path)
    if not force:
        for existing in (path, tensors_at):
            if existing.exists():
                raise ImportError_(f"{existing}: already exists (replace it with --force)")
    if not path.parent.is_dir():
        raise ImportError_(f"{path.parent}: no such folder")
    project = result.project
    project.path = None             # its weights are referenced relative to `path`'s folder
    weights.save(project, result.tensors, tensors_at)
    project_file.save(project, path)
    return path


def describe(result: ImportResult) -> dict:
    """The figures an import is judged by (CLI output, the app's import summary)."""
    from workbench.core.analysis import analyse
    graph = result.project.graph
    analysis = analyse(graph)
    return {"name": result.project.name,
            "nodes": len(graph.nodes),
            "parameters": analysis.total_params,
            "opaque": sum(1 for n in graph.nodes.values() if n.type == "Opaque"),
            "max_diff": result.max_diff,
            "matched": result.ok(),
            "report": list(result.report)}
