"""Reading a file a user named, safely: only regular files, only up to a size, JSON only up to a
nesting depth — and every refusal is one line naming the file.

Why: a FIFO opened for reading blocks until someone writes to it (a command hangs forever),
`/dev/zero` never ends (read until memory runs out), and JSON nested 100,000 deep makes the
parser raise RecursionError. The file is checked with `stat` before it is opened (opening a
FIFO is what blocks), then opened non-blocking and checked again with `fstat` on the open file,
so a file swapped for a FIFO between the two steps is still refused.

    read_regular_bytes(path, limit, what="file") -> bytes
    read_regular_text(path, limit, what="file") -> str      (UTF-8)
    open_regular(path, what="file") -> binary file object   (for readers that stream)
    check_regular(path, what="file") -> os.stat_result      (for readers that open it themselves)
    parse_json(text, name, max_depth=MAX_JSON_DEPTH) -> object
    load_json(path, limit=JSON_LIMIT, what="file") -> object

All raise FileRefused (str: "<path>: <why>", `.why` without the path, `.path`).
"""
from __future__ import annotations

import json
import os
import stat

PROJECT_LIMIT = 64 * 1024 * 1024   # a project file is a graph and settings: kilobytes in practice
JSON_LIMIT = 64 * 1024 * 1024      # side files next to checkpoints (summary, metadata)
MAX_JSON_DEPTH = 200               # a project is ~6 levels deep; far below the recursion limit


class FileRefused(Exception):
    """A file that cannot be read safely; `str(e)` is one line naming it."""

    def __init__(self, path, why: str):
        self.path, self.why = str(path), short(why)
        super().__init__(short(f"{self.path}: {why}", 300 + len(self.path)))


def short(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters: messages quote user text (titles, values)."""
    text = " ".join(str(text).split("\n")).replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _kind(mode: int) -> str | None:
    """Why a file of this mode is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _refuse_kind(path, kind: str, what: str) -> FileRefused:
    if kind == "folder":
        return FileRefused(path, f"is a folder, not a {what}")
    return FileRefused(path, f"is a {kind}, not a {what}: only regular files are read")


def _os_error(path, exc: OSError) -> FileRefused:
    if isinstance(exc, FileNotFoundError):
        return FileRefused(path, "no such file")
    if isinstance(exc, PermissionError):
        return FileRefused(path, "cannot be read (permission denied)")
    return FileRefused(path, f"cannot be read ({exc.strerror or exc})")


def check_regular(path, what: str = "file") -> os.stat_result:
    """The file's stat if it is a regular file; FileRefused otherwise. For readers (pandas) that
    open the path themselves: nothing is opened here."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _os_error(path, exc) from None
    kind = _kind(st.st_mode)
    if kind is not None:
        raise _refuse_kind(path, kind, what)
    return st


def open_regular(path, what: str = "file"):
    """An open binary file, guaranteed regular (checked before and after opening)."""
    check_regular(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _os_error(path, exc) from None
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:  # swapped between stat and open
            raise _refuse_kind(path, kind, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path, limit: int, what: str = "file") -> bytes:
    """The whole file, refused when it is not regular or larger than `limit` bytes."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise FileRefused(path, f"is {size_text(size)}, more than the {size_text(limit)} a "
                                    f"{what} may be")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise _os_error(path, exc) from None
    if len(data) > limit:  # grew while being read
        raise FileRefused(path, f"is more than the {size_text(limit)} a {what} may be")
    return data


def read_regular_text(path, limit: int, what: str = "file") -> str:
    data = read_regular_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(path, f"not a {what} (byte 0x{data[exc.start]:02x} at offset "
                                f"{exc.start} is not UTF-8 text)") from None


def parse_json(text: str | bytes, name: str = "<json>", max_depth: int = MAX_JSON_DEPTH):
    """json.loads, with nesting deeper than `max_depth` refused in one line (FileRefused);
    syntax errors stay json.JSONDecodeError for the caller to word."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise FileRefused(name, f"nested more than {max_depth} levels deep: not a file "
                                "Workbench wrote") from None
    if json_depth(doc, max_depth) > max_depth:
        raise FileRefused(name, f"nested more than {max_depth} levels deep: not a file "
                                "Workbench wrote")
    return doc


def json_depth(doc, stop: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), counted without recursion; stops counting
    past `stop`."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop:
            return deepest
        todo.extend((child, depth + 1) for child in children)
    return deepest


def load_json(path, limit: int = JSON_LIMIT, what: str = "file"):
    """A JSON file read with all the checks above; bad JSON is one line too (FileRefused)."""
    text = read_regular_text(path, limit, what)
    try:
        return parse_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise FileRefused(path, f"line {exc.lineno}, column {exc.colno}: not valid JSON "
                                f"({exc.msg})") from None
