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

from workbench.core import atomic, catalog
from workbench.core.graph import Edge, Graph, GraphError, Node
from workbench.core.training_settings import TrainingSettings  # the one list of defaults

FORMAT_VERSION = 1
SUFFIX = ".wbproj"


class ProjectError(Exception):
    """A project file that cannot be used; the message is one line naming the file and where."""


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
        head = {"format_version": FORMAT_VERSION, "name": self.name}
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
    """Write atomically; relative data paths are rebased if the project moves folder."""
    path = Path(path)
    if project.path is not None and project.path.parent.resolve() != path.parent.resolve():
        _rebase(project.data, project.path.parent, path.parent)
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
    project.path = None
    return project


def _rebase(data: dict, old: Path, new: Path) -> None:
    for key in ("path", "test_path"):
        value = data.get(key)
        if value and not Path(value).is_absolute():
            target = (old / value).resolve()
            data[key] = os.path.relpath(target, new.resolve())


def load(path: str | os.PathLike) -> Project:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ProjectError(f"{path}: is a folder, not a project file") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read ({exc.strerror})") from None
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
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip())
        why = "the file ends early (truncated?)" if ends_early else f"not valid JSON ({exc.msg})"
        raise ProjectError(f"{name}: line {exc.lineno}, column {exc.colno}: {why}") from None
    return from_dict(doc, name)


def from_dict(doc: Any, name: str = "<project>") -> Project:
    def fail(where: str, why: str) -> ProjectError:
        return ProjectError(f"{name}: {where}: {why}" if where else f"{name}: {why}")

    if not isinstance(doc, dict) or "format_version" not in doc:
        raise fail("", "not a Workbench project (no 'format_version')")
    version = doc["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("format_version", f"expected a positive whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise fail("", f"written by a newer Workbench (format {version}; this version reads up to "
                       f"{FORMAT_VERSION}): update Workbench to open it")
    graph_doc = _expect(doc.get("graph", {"nodes": [], "edges": []}), dict, "graph", fail)
    graph = Graph()
    for i, nd in enumerate(_expect(graph_doc.get("nodes", []), list, "graph.nodes", fail)):
        where = f"graph.nodes[{i}]"
        nd = _expect(nd, dict, where, fail)
        node_id = _expect(nd.get("id"), str, f"{where}.id", fail)
        type_name = _expect(nd.get("type"), str, f"{where}.type", fail)
        type_name = catalog.RENAMES.get(type_name, type_name)
        title = _expect(nd.get("title", node_id), str, f"{where}.title", fail)
        where = f"{where} ('{title}')"
        params = _expect(nd.get("params", {}), dict, f"{where}.params", fail)
        pos = nd.get("pos", [0, 0])
        if (not isinstance(pos, list) or len(pos) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)):
            raise fail(f"{where}.pos", f"expected [x, y], got {pos!r}")
        if node_id in graph.nodes:
            raise fail(where, f"node id '{node_id}' is used twice")
        spec = catalog.find(type_name)
        values = dict(params)
        if spec is not None:
            values = spec.defaults()
            for key, value in params.items():
                try:
                    values[key] = spec.param(key).check(value)
                except KeyError:
                    values[key] = value  # from another version: kept, ignored
                except ValueError as exc:
                    raise fail(f"{where}.params", str(exc)) from None
        graph.nodes[node_id] = Node(node_id, type_name, title, values, (pos[0], pos[1]))
    for i, ed in enumerate(_expect(graph_doc.get("edges", []), list, "graph.edges", fail)):
        where = f"graph.edges[{i}]"
        ed = _expect(ed, dict, where, fail)
        try:
            (src, sp), (dst, dp) = ed["from"], ed["to"]
            assert all(isinstance(v, str) for v in (src, sp, dst, dp))
        except (KeyError, ValueError, TypeError, AssertionError):
            raise fail(where, 'expected {"from": [node, port], "to": [node, port]}') from None
        for nid in (src, dst):
            if nid not in graph.nodes:
                raise fail(where, f"node '{nid}' does not exist")
        try:
            if graph.nodes[src].spec and graph.nodes[dst].spec:
                graph.check_connect(src, sp, dst, dp)
        except GraphError as exc:
            raise fail(where, str(exc)) from None
        graph.edges.append(Edge(src, sp, dst, dp))
    project_name = _expect(doc.get("name", "untitled"), str, "name", fail)
    data = _expect(doc.get("data", {}), dict, "data", fail)
    training = default_training()
    training.update(_expect(doc.get("training", {}), dict, "training", fail))
    description = _expect(doc.get("description", ""), str, "description", fail)
    known = {"format_version", "name", "description", "graph", "data", "training"}
    extra = {k: v for k, v in doc.items() if k not in known}
    return Project(graph, project_name, data, training, extra, description=description)


def _expect(value, kind, where, fail):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = {dict: "an object", list: "a list", str: "text", int: "a whole number"}
        raise fail(where, f"expected {names.get(kind, kind.__name__)}, got {json.dumps(value)[:40]}")
    return value
