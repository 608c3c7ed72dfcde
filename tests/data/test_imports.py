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
    mods = loaded_after("import workbench.train")
    assert "torch" not in mods and "pandas" not in mods and "workbench.train.checkpoint" not in mods


def test_cli_module_imports_nothing_heavy():
    mods = loaded_after("import workbench.cli.data_cmd")
    assert "torch" not in mods and "pandas" not in mods and "numpy" not in mods


def library_modules() -> list[str]:
    """Every module of the package but the UI, __main__ (it runs the CLI) and the export
    templates (source text for generated files, not modules of Workbench)."""
    import pkgutil

    import workbench
    return sorted(m.name for m in pkgutil.walk_packages(workbench.__path__, "workbench.")
                  if not m.name.startswith(("workbench.ui", "workbench.export.templates."))
                  and m.name != "workbench.__main__")


def test_every_library_module_imports_without_qt():
    names = library_modules()
    assert len(names) >= 60 and {"workbench.export.api", "workbench.export.formats", "workbench.train.trainer",
                                 "workbench.train.distributed", "workbench.cli.export_cmd"} <= set(names)
    mods = loaded_after("import importlib\n" + "\n".join(f"importlib.import_module({n!r})" for n in names))
    assert set(names) <= mods
    assert not any(m.startswith(("PySide6", "shiboken6", "pyqtgraph", "workbench.ui")) for m in mods)
