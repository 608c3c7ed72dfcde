"""Small file writers for the data tests."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import DATA  # noqa: F401  (re-exported for the tests)


def write(folder: Path, name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode(encoding))
    return path
