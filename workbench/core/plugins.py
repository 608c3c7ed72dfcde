"""Plugins: Python modules that add node specs (and, optionally, data readers).

A plugin is a module or package with a function `register(api)`; it is found in the
`workbench.plugins` entry-point group, in the repository's `plugins/` folder, in the user's
plugin folder (`~/.local/share/workbench/plugins`, or `$WORKBENCH_PLUGIN_PATH`, several
folders separated by `os.pathsep`). Plugins are the one place where Workbench runs code that
is not its own, and only from those places. A plugin that fails to import, raises in
`register`, or adds a broken spec is reported and skipped as a whole: the rest still loads.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from workbench.core import catalog
from workbench.core.spec import MODEL, NodeSpec, ShapeError
from workbench.core.types import BATCH, TensorType

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def bundled_folders() -> list[Path]:
    """The `plugins/` shipped with Workbench: beside a source checkout or inside a PyInstaller
    build — never a `plugins` folder that merely happens to sit in site-packages."""
    root = REPO_PLUGINS.parent
    if (root / "pyproject.toml").is_file() or hasattr(sys, "_MEIPASS"):
        return [REPO_PLUGINS]
    return []


def user_folders() -> list[Path]:
    env = os.environ.get("WORKBENCH_PLUGIN_PATH")
    if env is not None:
        return [Path(p) for p in env.split(os.pathsep) if p]
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return [base / "workbench" / "plugins"]


@dataclass
class Plugin:
    name: str
    source: str                      # entry point, or the file it came from
    nodes: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    error: str | None = None         # one line: why it was skipped

    @property
    def ok(self) -> bool:
        return self.error is None


class PluginAPI:
    """What a plugin's `register(api)` may call. Nothing is kept unless all of it works."""

    def __init__(self, plugin: Plugin):
        self.plugin = plugin
        self._specs: list[NodeSpec] = []
        self._readers: dict[str, Callable] = {}

    def node(self, spec: NodeSpec) -> None:
        self._specs.append(spec)

    def reader(self, suffix: str, read: Callable) -> None:
        """`read(path) -> pandas.DataFrame` for files ending in `suffix` (e.g. ".parquet")."""
        self._readers[suffix.lower()] = read


READERS: dict[str, Callable] = {}
_loaded: list[Plugin] | None = None     # the default discovery's result, once made
_installed: dict[str, Plugin] = {}      # source -> plugin installed from it


def check_spec(spec: NodeSpec) -> None:
    """Raise CatalogError if a model spec cannot infer and build on any ordinary input."""
    if spec.role != MODEL:
        return
    errors = []
    for shape, dtype, card in EXAMPLE_INPUTS:
        ins = {p.name: TensorType((BATCH, *shape), dtype, card) for p in spec.inputs if not p.optional}
        try:
            spec.infer(spec.defaults(), ins)
        except ShapeError as exc:
            errors.append(str(exc))
            continue
        except Exception as exc:
            raise catalog.CatalogError(f"{spec.type}: its shape rule fails: {exc!r}") from None
        if spec.build is None:
            raise catalog.CatalogError(f"{spec.type}: a model node needs a build function")
        try:
            import torch
            with torch.device("meta"):
                spec.build(spec.defaults(), ins)
        except Exception as exc:
            raise catalog.CatalogError(f"{spec.type}: building it fails: {exc!r}") from None
        return
    raise catalog.CatalogError(f"{spec.type}: accepts none of the usual inputs ({errors[0]})")


# One sample's shape, dtype, cardinality: inputs a plugin layer is tried on.
EXAMPLE_INPUTS = [((16,), "float32", None), ((64,), "float32", None), ((6, 16), "float32", None),
                  ((4, 10), "float32", None), ((4, 8, 8), "float32", None), ((10,), "int64", 50)]


def _install(plugin: Plugin, register: Callable) -> None:
    api = PluginAPI(plugin)
    register(api)
    for spec in api._specs:
        if catalog.find(spec.type) is not None:
            raise catalog.CatalogError(f"node type '{spec.type}' is already registered")
        check_spec(spec)
    added = []
    try:
        for spec in api._specs:
            added.append(catalog.register(spec).type)
    except catalog.CatalogError:
        for t in added:
            catalog.unregister(t)
        raise
    READERS.update(api._readers)
    plugin.nodes, plugin.readers = added, list(api._readers)


def _one_line(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({Path(frame[0].filename).name}, line {frame[0].lineno})" if frame else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}" if not isinstance(exc, catalog.CatalogError) else text


def _from_file(path: Path) -> Callable:
    name = f"workbench_plugin_{path.stem if path.is_file() else path.name}"
    target = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(name, target,
                                                  submodule_search_locations=[str(path)] if path.is_dir() else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if not callable(getattr(module, "register", None)):
        raise catalog.CatalogError("has no register(api) function")
    return module.register


def _candidates(folders: list[Path]) -> list[Path]:
    found = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(("_", ".")) or entry.name.startswith("test"):
                continue
            if (entry.suffix == ".py" and entry.is_file()) or (entry / "__init__.py").is_file():
                found.append(entry)
    return found


def load_plugins(folders: list[Path] | None = None, reload: bool = False) -> list[Plugin]:
    """Discover and register every plugin once; returns what was found, failures included.

    A plugin already installed from the same source is not run again, unless `reload`, which
    first removes the node types it added.
    """
    global _loaded
    if _loaded is not None and not reload and folders is None:
        return _loaded
    found: list[tuple[Plugin, Callable[[], Callable]]] = []
    for ep in entry_points(group="workbench.plugins"):
        def target(ep=ep):
            value = ep.load()
            return value.register if hasattr(value, "register") else value
        found.append((Plugin(ep.name, f"entry point {ep.value}"), target))
    for path in _candidates(folders if folders is not None else [*bundled_folders(), *user_folders()]):
        found.append((Plugin(path.stem if path.is_file() else path.name, str(path)),
                      lambda path=path: _from_file(path)))
    plugins = []
    for plugin, target in found:
        previous = _installed.get(plugin.source)
        if previous is not None and not reload:
            plugins.append(previous)
            continue
        if previous is not None:
            for type_name in previous.nodes:
                catalog.unregister(type_name)
            del _installed[plugin.source]
        try:
            _install(plugin, target())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin must never take the app down
            plugin.error = _one_line(exc)
        if plugin.ok:
            _installed[plugin.source] = plugin
        plugins.append(plugin)
    if folders is None:
        _loaded = plugins
    return plugins
