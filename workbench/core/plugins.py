"""Plugins: Python modules that add node specs (and, optionally, data readers).

A plugin is a module or package with a function `register(api)`; it is found in the
`workbench.plugins` entry-point group, in the repository's `plugins/` folder, in the user's
plugin folder (`~/.local/share/workbench/plugins`, or `$WORKBENCH_PLUGIN_PATH`, several
folders separated by `os.pathsep`). Plugins are the one place where Workbench runs code that
is not its own, and only from those places. A plugin that fails to import, raises in
`register`, or adds a broken spec is reported and skipped as a whole: the rest still loads.

Each plugin is first tried in a child process with a time limit (`plugin_probe`), so one that
hangs, exits or crashes is only reported; the verdict is cached by the plugin's content hash.
Only a plugin whose probe passed is imported here, its prints sent to stderr (stdout may be
`train --json`'s) and any exception, KeyboardInterrupt and SystemExit included, contained.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Callable

from workbench.core import catalog, plugin_probe
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


def install(plugin: Plugin, register: Callable) -> None:
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


def describe_failure(exc: BaseException, phase: str) -> str:
    """One line for the listing; `phase` is "at import" or "in register(api)". An ordinary
    exception keeps its type, message and place; exits and interrupts say what happened."""
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return f"exited with code {code} {phase}"
    if not isinstance(exc, Exception):
        return f"raised {type(exc).__name__} {phase}"
    return _one_line(exc)


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


def import_target(kind: str, target: str) -> Callable:
    """Import a plugin, "file" (a path) or "entry" (an entry point's `module:attr`), and
    return its register function."""
    if kind == "file":
        return _from_file(Path(target))
    value = EntryPoint("plugin", target, "workbench.plugins").load()
    return value.register if hasattr(value, "register") else value


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


@dataclass
class _Found:
    plugin: Plugin
    kind: str            # "file" or "entry"
    target: str          # the path, or the entry point's `module:attr`
    key: str | None = None


def _discover(folders: list[Path] | None) -> list[_Found]:
    found = []
    for ep in entry_points(group="workbench.plugins"):
        dist = getattr(ep, "dist", None)
        item = _Found(Plugin(ep.name, f"entry point {ep.value}"), "entry", ep.value)
        item.key = plugin_probe.entry_point_key(ep.value, f"{dist.name} {dist.version}" if dist else "")
        found.append(item)
    for path in _candidates(folders if folders is not None else [*bundled_folders(), *user_folders()]):
        item = _Found(Plugin(path.stem if path.is_file() else path.name, str(path)), "file", str(path))
        try:
            item.key = plugin_probe.file_key(path)
        except OSError as exc:
            item.plugin.error = f"cannot be read: {exc.strerror or exc}"
        found.append(item)
    return found


def _verdicts(items: list[_Found], recheck: bool) -> dict[str, dict]:
    """The probe verdict of each plugin, by key: from the cache, else probed now (several at
    once) and cached."""
    limit = plugin_probe.timeout()
    cache = {} if recheck else plugin_probe.load_cache()
    verdicts, wanted = {}, {}
    for item in items:
        entry = cache.get(item.key)
        if entry is not None and not (entry["verdict"].get("error", "").startswith("timed out")
                                      and entry.get("limit", 0) < limit):
            verdicts[item.key] = entry["verdict"]
        else:
            wanted.setdefault(item.key, item)
    if not wanted:
        return verdicts
    plugin_probe.cancelled.clear()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        try:
            probed = dict(zip(wanted, pool.map(
                lambda it: plugin_probe.probe(it.kind, it.target, it.plugin.name, limit), wanted.values())))
        except BaseException:  # Ctrl-C: no verdict is kept, and no probe is waited for
            pool.shutdown(wait=False, cancel_futures=True)
            plugin_probe.cancel_all()
            raise
    fresh = {key: {"verdict": v, "source": wanted[key].plugin.source, "limit": limit, "when": time.time()}
             for key, v in probed.items() if v.pop("cache", True)}
    if fresh:
        plugin_probe.save_cache({**plugin_probe.load_cache(), **fresh})
    return {**verdicts, **probed}


@contextlib.contextmanager
def _stdout_to_stderr():
    """While a plugin runs here, what it prints (from Python or C) goes to stderr: stdout may
    be a machine-read answer such as `train --json`."""
    saved = None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _load_here(plugin: Plugin, kind: str, target: str) -> None:
    with _stdout_to_stderr():
        try:
            register = import_target(kind, target)
        except BaseException as exc:  # noqa: BLE001 - a plugin must never take the app down
            plugin.error = describe_failure(exc, "at import")
            return
        try:
            install(plugin, register)
        except BaseException as exc:  # noqa: BLE001
            plugin.error = describe_failure(exc, "in register(api)")


def load_plugins(folders: list[Path] | None = None, reload: bool = False,
                 recheck: bool = False) -> list[Plugin]:
    """Discover and register every plugin once; returns what was found, failures included.

    A plugin already installed from the same source is not run again, unless `reload`, which
    first removes the node types it added. `recheck` probes every plugin again instead of
    trusting the cached verdicts.
    """
    global _loaded
    if _loaded is not None and not reload and not recheck and folders is None:
        return _loaded
    found = _discover(folders)
    plugins, pending = [], []
    for item in found:
        previous = _installed.get(item.plugin.source)
        if previous is not None and not reload and not recheck:
            plugins.append(previous)
            continue
        if previous is not None:
            for type_name in previous.nodes:
                catalog.unregister(type_name)
            del _installed[item.plugin.source]
        plugins.append(item.plugin)
        if item.plugin.ok:
            pending.append(item)
    verdicts = _verdicts(pending, recheck)
    for item in pending:
        verdict = verdicts[item.key]
        if verdict.get("error"):
            item.plugin.error = verdict["error"]
            continue
        _load_here(item.plugin, item.kind, item.target)
        if item.plugin.ok:
            _installed[item.plugin.source] = item.plugin
    if folders is None:
        _loaded = plugins
    return plugins
