"""Trying a plugin in a child process first, so that one that hangs or kills cannot.

A plugin is ordinary Python that runs at import: it may sleep, loop, `os._exit`, segfault or
raise KeyboardInterrupt, and in-process any of those hangs or ends every command and the app.
So it is first imported (and its `register(api)` run) in a child interpreter with a time limit;
only a plugin whose probe passed is imported in-process. The verdict is cached by a hash of the
plugin's own files, so a good plugin costs one probe ever, and editing it probes again.

The child speaks one JSON object per line on a private copy of stdout: `{"phase": ...}` before
each step, then the result. The plugin's own stdout goes to the child's stderr, which is
discarded, so nothing a plugin prints can pass for a result.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

DEFAULT_TIMEOUT = 10.0
TIMEOUT_ENV = "WORKBENCH_PLUGIN_TIMEOUT"   # seconds a plugin may take to import, and to register
STARTUP_LIMIT = 120.0     # the child's own start (Python, torch) is not the plugin's time
PROBE_FLAG = "--workbench-plugin-probe"    # how a frozen build is asked to be a probe
CACHE_FORMAT = 1
CACHE_ENTRIES = 256       # oldest verdicts are dropped beyond this
CACHE_MAX_BYTES = 4 << 20
PHASES = {"import": "at import", "register": "in register(api)"}

probes_run = 0            # how many children were started in this process (tests count them)
_running: set = set()     # the probe children alive now (ended at once by `cancel_all`)
cancelled = threading.Event()   # set by `cancel_all`: a probe starting after it ends at once


def timeout() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


# --- the verdict cache ---------------------------------------------------------------------

def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / "plugin-verdicts.json"


def load_cache() -> dict[str, dict]:
    """The cached verdicts by key; anything unreadable (missing, truncated, hand-edited, a
    special file) reads as no cache, which only costs probes."""
    path = cache_path()
    try:
        if not path.is_file() or path.stat().st_size > CACHE_MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["verdicts"] if data.get("format") == CACHE_FORMAT else {}
        return {k: v for k, v in entries.items()
                if isinstance(v, dict) and isinstance(v.get("verdict"), dict)}
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError):
        return {}


def save_cache(entries: dict[str, dict]) -> None:
    from workbench.core.atomic import write_text

    newest = sorted(entries.items(), key=lambda kv: kv[1].get("when", 0), reverse=True)
    data = {"format": CACHE_FORMAT, "verdicts": dict(newest[:CACHE_ENTRIES])}
    with contextlib.suppress(OSError):  # a read-only home only means probing again next time
        write_text(cache_path(), json.dumps(data, indent=1, sort_keys=True))


def file_key(path: Path) -> str:
    """A plugin file's or package's content hash (its .py files), with what else changes a
    verdict: the interpreter and the Workbench version."""
    digest = _context_hash()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def entry_point_key(value: str, dist: str) -> str:
    """An entry point's key: its distribution and version, and the hash of the module it names,
    found without importing anything (a parent package's `__init__` is plugin code too)."""
    digest = _context_hash()
    digest.update(f"{value}\0{dist}\0".encode())
    origin = _module_origin(value.partition(":")[0].strip())
    if origin is not None:
        with contextlib.suppress(OSError):
            digest.update(hashlib.sha256(origin.read_bytes()).digest())
    return digest.hexdigest()


def _context_hash():
    from workbench import __version__

    return hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0{sys.executable}\0".encode())


def _module_origin(module: str) -> Path | None:
    import importlib.machinery
    import importlib.util

    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])   # a top-level name: nothing is run
        for i in range(1, len(parts)):
            if spec is None or spec.submodule_search_locations is None:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return Path(spec.origin)


# --- the parent's side ---------------------------------------------------------------------

def probe(kind: str, target: str, name: str, limit: float) -> dict:
    """Run one probe; a verdict: {"ok": True, "nodes": [...], "readers": [...]} or
    {"error": "one line"}, with "cache": False where the fault was not the plugin's."""
    global probes_run
    probes_run += 1
    posix = os.name == "posix"
    try:
        child = subprocess.Popen(_command(kind, target, name), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 start_new_session=posix, env=_child_env())
    except OSError as exc:
        return {"error": f"could not start the plugin probe: {exc.strerror or exc}", "cache": False}
    _running.add(child)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True).start()
    phase, deadline = None, time.monotonic() + STARTUP_LIMIT
    try:
        if cancelled.is_set():   # started while cancel_all ran
            return {"error": "cancelled", "cache": False}
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                if phase is None:
                    return {"error": f"the plugin probe did not start within {STARTUP_LIMIT:g} s",
                            "cache": False}
                return {"error": f"timed out after {limit:g} s {PHASES[phase]}"}
            if line is None:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if message.get("phase") in PHASES:
                phase, deadline = message["phase"], time.monotonic() + limit
            elif "ok" in message or "error" in message:
                return {k: message[k] for k in ("ok", "error", "nodes", "readers") if k in message}
        try:
            code = child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:   # closed its stdout, still running
            return {"error": f"timed out after {limit:g} s {PHASES.get(phase, 'at import')}"}
        if phase is None:
            return {"error": f"the plugin probe failed to start (exit code {code})", "cache": False}
        return {"error": f"{_death(code)} {PHASES[phase]}"}
    finally:
        _end(child, posix)
        _running.discard(child)


def cancel_all() -> None:
    """End every probe still running (a Ctrl-C in the parent): their threads then return at
    once instead of waiting out the plugin's time limit."""
    cancelled.set()
    for child in list(_running):
        _end(child, os.name == "posix")


def _command(kind: str, target: str, name: str) -> list[str]:
    if getattr(sys, "frozen", False):   # a PyInstaller build: the executable is the app
        return [sys.executable, PROBE_FLAG, kind, target, name]
    code = "import sys; from workbench.core.plugin_child import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, kind, target, name]


def _child_env() -> dict[str, str]:
    """This process's environment, with the folder this `workbench` came from first on the
    path (unless it is a site-packages folder, which the child finds anyway and which must not
    go ahead of the standard library), so the child imports the same Workbench."""
    import site

    env = dict(os.environ)
    here = Path(__file__).resolve().parents[2]
    system = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if here not in system and str(here) not in path:
        env["PYTHONPATH"] = os.pathsep.join([str(here), *path])
    return env


def _read_lines(stream, lines: queue.Queue) -> None:
    with contextlib.suppress(OSError, ValueError):
        for raw in stream:
            lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"crashed (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"crashed (signal {-code})"
    return f"exited with code {code}"


def _end(child: subprocess.Popen, posix: bool) -> None:
    """Kill the child and anything it started; a probe leaves nothing running."""
    with contextlib.suppress(OSError):
        if posix:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=5)
    with contextlib.suppress(OSError):
        child.stdout.close()
