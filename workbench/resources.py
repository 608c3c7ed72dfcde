"""Where the bundled resources (icons, example projects and their data) are.

From a source checkout they are in the repository's `resources/`; from a wheel in
`<prefix>/share/workbench/resources`; from a PyInstaller build beside the executable.
"""
from __future__ import annotations

import sys
from pathlib import Path

APP_ID = "io.workbench.Workbench"  # matches packaging/io.workbench.Workbench.desktop


def resources_dir() -> Path:
    candidates = [Path(__file__).resolve().parents[1] / "resources",
                  Path(sys.prefix) / "share" / "workbench" / "resources"]
    if hasattr(sys, "_MEIPASS"):
        candidates.insert(0, Path(sys._MEIPASS) / "resources")
    for path in candidates:
        if (path / "icons").is_dir():
            return path
    return candidates[0]


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def examples_dir() -> Path:
    return resource("examples")


def is_bundled_example(path) -> bool:
    """A project shipped in the examples folder (perhaps read-only, part of the install)."""
    try:
        Path(path).resolve().relative_to(examples_dir().resolve())
    except (ValueError, OSError):
        return False
    return True
