"""Test setup shared by the whole suite: headless Qt, and paths to the bundled data."""
from __future__ import annotations

import os
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
