"""workbench.data is Qt-free, and cheap to import: torch loads only with the tensor parts."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_no_qt_anywhere_in_workbench_data():
    mods = loaded_after("import workbench.data, workbench.data.prepared, workbench.data.batching, "
                        "workbench.data.preview")
    assert not any(m.startswith(("PySide6", "shiboken6", "pyqtgraph")) for m in mods)


def test_package_import_does_not_load_torch_or_pandas():
    mods = loaded_after("import workbench.data")
    assert "torch" not in mods and "pandas" not in mods


def test_cli_module_imports_nothing_heavy():
    mods = loaded_after("import workbench.cli.data_cmd")
    assert "torch" not in mods and "pandas" not in mods and "numpy" not in mods
