"""Test setup shared by the whole suite: headless Qt, and paths to the bundled data."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WORKBENCH_NO_SETTINGS", "1")  # tests never touch the user's QSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "resources" / "examples"
DATA = EXAMPLES / "data"
ARTIFACTS = ROOT / "tests" / "_artifacts"  # screenshots the tests save, for people to look at


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's application, made the way the app makes it: with garbage collection kept on
    the UI thread (workbench.ui.gc_guard), so a worker thread never destroys a Qt object."""
    import workbench.ui  # noqa: F401  (applies the PySide6 None-refcount workaround first)
    from workbench.ui.app import make_app
    return make_app(["workbench-tests"], dark=False)


@pytest.fixture(autouse=True)
def _collect_between_tests():
    """Once a Qt test has turned automatic collection off, tests that never spin an event loop
    still get their cycles collected, on the main thread, between tests."""
    yield
    guard = sys.modules.get("workbench.ui.gc_guard")
    if guard is not None and guard.installed():
        guard.collect_if_due()
