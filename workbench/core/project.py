"""Project files (`.wbproj`): versioned JSON holding the graph, data and training settings.

Loading only parses JSON and checks it against the catalog — nothing in a file is ever
executed. Saving is atomic (temp file + rename) and canonical, so load → save reproduces the
file byte for byte. The format is documented in docs/project-format.md.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core import atomic, files
from workbench.core.graph import Graph, GraphFormatError, brief_json
from workbench.core.training_settings import TrainingSettings  # the one list of defaults

# 2: the optional "search" object (the search space, core/search_space.py). A project without
# one is still written as version 1, so older Workbench versions open it and load -> save
# reproduces a version-1 file byte for byte.
FORMAT_VERSION = 2
SUFFIX = ".wbproj"


class ProjectError(Exception):
    """A project file that cannot be used; the message is one line naming the file and where
    (cut short: it may quote a title or a value from the file)."""

    def __init__(self, message: str):
        super().__init__(files.short(message, 400))


def default_training() -> dict:
    return TrainingSettings().to_dict()


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    name: str = "untitled"
    data: dict = field(default_factory=dict)          # workbench.data.DataSettings.to_dict()
    training: dict = field(default_factory=default_training)
    extra: dict = field(default_factory=dict)         # keys this version does not know, kept as-is
    path: Path | None = None                          # where it was loaded from / last saved
    description: str = ""                             # one line, shown in File › New from example

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def to_dict(self) -> dict:
        head = {"format_version": FORMAT_VERSION if "search" in self.extra else 1, "name": self.name}
        if self.description:
            head["description"] = self.description
        return {**head, "graph": self.graph.to_dict(), "data": self.data, "training": self.training,
                **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def copy(self) -> "Project":
        return Project(self.graph.copy(), self.name, copy.deepcopy(self.data),
                       copy.deepcopy(self.training), copy.deepcopy(self.extra), self.path,
                       self.description)


def save(project: Project, path: str | os.PathLike) -> Path:
    """Write atomically; relative data paths (and the weights file) are rebased if the project
    moves folder."""
    path = Path(path)
    if project.path is not None and project.path.parent.resolve() != path.parent.resolve():
        _rebase(project.data, project.path.parent, path.parent)
        _rebase_weights(project.extra, project.path.parent, path.parent)
    elif project.path is None:
        _relative_weights(project.extra, path.parent)
    atomic.write_text(path, project.to_json())
    project.path = path
    return path


def untitled(project: Project) -> Project:
    """The project detached from its file (Save will ask where): relative data paths are made
    absolute first, so its data still loads. Used for bundled examples, which are never written."""
    if project.path is not None:
        for key in ("path", "test_path"):
            value = project.data.get(key)
            if value and not Path(value).is_absolute():
                project.data[key] = str((project.path.parent / value).resolve())
        ref = project.extra.get("weights")
        value = ref.get("file") if isinstance(ref, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            project.extra["weights"] = {**ref, "file": str((project.path.parent / value).resolve())}
    project.path = None
    return project


def _rebase(data: dict, old: Path, new: Path) -> None:
    for key in ("path", "test_path"):
        value = data.get(key)
        if value and not Path(value).is_absolute():
            target = (old / value).resolve()
            data[key] = os.path.relpath(target, new.resolve())


def _rebase_weights(extra: dict, old: Path, new: Path) -> None:
    """The weights stay where they are (they may be large); the reference follows the file."""
    ref = extra.get("weights")
    value = ref.get("file") if isinstance(ref, dict) else None
    if isinstance(value, str) and value and not Path(value).is_absolute():
        target = (old / value).resolve()
        extra["weights"] = {**ref, "file": os.path.relpath(target, new.resolve()).replace(os.sep, "/")}


def _relative_weights(extra: dict, folder: Path) -> None:
    """A project saved for the first time names its weights relative to its file (an untitled
    project knows them by an absolute path), so the two can move together."""
    ref = extra.get("weights")
    value = ref.get("file") if isinstance(ref, dict) else None
    if isinstance(value, str) and value and Path(value).is_absolute():
        extra["weights"] = {**ref, "file": os.path.relpath(value, folder.resolve()).replace(os.sep, "/")}


def load(path: str | os.PathLike) -> Project:
    path = Path(path)
    try:
        raw = files.read_regular_bytes(path, files.PROJECT_LIMIT, what="project file")
    except files.FileRefused as exc:
        raise ProjectError(str(exc)) from None
    project = loads(raw, str(path))
    project.path = path
    return project


def loads(raw: bytes | str, name: str = "<project>") -> Project:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{name}: not a project file (byte 0x{raw[exc.start]:02x} at offset "
                               f"{exc.start} is not UTF-8 text)") from None
    else:
        text = raw
    if not text.strip():
        raise ProjectError(f"{name}: the file is empty")
    try:
        doc = files.parse_json(text, name)
    except files.FileRefused as exc:
        raise ProjectError(str(exc)) from None
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip())
        why = "the file ends early (truncated?)" if ends_early else f"not valid JSON ({exc.msg})"
        raise ProjectError(f"{name}: line {exc.lineno}, column {exc.colno}: {why}") from None
    return from_dict(doc, name)


def from_dict(doc: Any, name: str = "<project>") -> Project:
    def fail(where: str, why: str) -> ProjectError:
        return ProjectError(f"{name}: {where}: {why}" if where else f"{name}: {why}")

    if files.json_depth(doc) > files.MAX_JSON_DEPTH:  # a dict from elsewhere (crash recovery)
        raise fail("", f"nested more than {files.MAX_JSON_DEPTH} levels deep: not a file "
                       "Workbench wrote")
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise fail("", "not a Workbench project (no 'format_version')")
    version = doc["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("format_version", f"expected a positive whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise fail("", f"written by a newer Workbench (format {version}; this version reads up to "
                       f"{FORMAT_VERSION}): update Workbench to open it")
    graph_doc = _expect(doc.get("graph", {"nodes": [], "edges": []}), dict, "graph", fail)
    try:
        graph = Graph.from_dict(graph_doc)
    except GraphFormatError as exc:
        raise fail(f"graph.{exc.where}" if exc.where else "graph", exc.why) from None
    project_name = _expect(doc.get("name", "untitled"), str, "name", fail)
    data = _expect(doc.get("data", {}), dict, "data", fail)
    training = default_training()
    training.update(_expect(doc.get("training", {}), dict, "training", fail))
    description = _expect(doc.get("description", ""), str, "description", fail)
    known = {"format_version", "name", "description", "graph", "data", "training"}
    extra = {k: v for k, v in doc.items() if k not in known}
    if "search" in extra:   # checked here so a bad range is named at load, not mid-search
        from workbench.core import search_space
        try:
            search_space.from_dict(extra["search"])
        except search_space.SpaceError as exc:
            raise fail("", str(exc)) from None
    return Project(graph, project_name, data, training, extra, description=description)


def _expect(value, kind, where, fail):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {dict: "an object", list: "a list", str: "text", int: "a whole number"}
        raise fail(where, f"expected {names.get(kind, kind.__name__)}, got {brief_json(value)}")
    return value
