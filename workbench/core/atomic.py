"""The one way Workbench writes a file: a unique temp file in the target folder, fsync, rename.

A reader never sees half a file at a final path, whatever happens meanwhile (a full disk, a
kill -9, two processes writing the same path): the target holds either the old content or the
whole new one. A temp name carries the writer's pid, so `clean_stale` can remove what a killed
process left without touching a live writer's file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

TEMP_SUFFIX = ".wbtmp"


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


class AppendFile:
    """A log that grows by whole records only (metrics.jsonl). Each `append` lands whole or
    not at all: a short or failed write (a full disk, a file-size limit) is cut back to where
    the file ended, so a reader never finds half a line, and the OSError names the file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)

    def append(self, data: bytes) -> None:
        start = os.fstat(self.fd).st_size
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                if written == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, start)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path` for a writer that wants a file name (torch.save,
    onnx.save); on a clean exit it is synced and renamed onto `path`, on any error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp = _temp_name(path)
    mode = _file_mode(path)
    try:
        yield tmp
        if not tmp.exists():
            raise OSError(f"{path}: nothing was written")
        os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temp folder beside `path`; on a clean exit it replaces `path` whole (an
    existing folder is moved aside first and removed after), on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path.parent)
    tmp = _temp_name(path)
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if path.exists() or path.is_symlink():
            old = _temp_name(path)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            (shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink())
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove temp files and folders that a process no longer alive left in `folder`."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        pid = _owner_pid(entry.name)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
    return removed


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _owner_pid(name: str) -> int | None:
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


def pid_alive(pid: int) -> bool:
    """Is process `pid` on this machine still running? (One we may not signal counts as alive.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        _fsync(folder)


def _file_mode(path: Path) -> int:
    """The existing file's permissions, else those of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
