"""The layer rule is a contract `make test` checks (`lint-imports`); this test keeps the
contract itself from being weakened or deleted."""
import tomllib
from pathlib import Path

LIBRARY = {"workbench.core", "workbench.data", "workbench.train", "workbench.export",
           "workbench.search", "workbench.importers"}


def _contracts() -> list[dict]:
    doc = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    return doc["tool"]["importlinter"]["contracts"]


def test_the_qt_free_library_may_not_import_qt_or_the_front_ends():
    forbidden = [c for c in _contracts() if c["type"] == "forbidden"]
    covered = {(src, bad) for c in forbidden for src in c["source_modules"] for bad in c["forbidden_modules"]}
    for src in LIBRARY:
        for bad in ("PySide6", "pyqtgraph", "workbench.ui", "workbench.cli"):
            assert (src, bad) in covered, f"no contract forbids {src} -> {bad}"


def test_layers_point_downwards_and_library_packages_have_no_cycles():
    layers = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    assert ["workbench.cli", "workbench.ui", "workbench.search", "workbench.importers",
            "workbench.export", "workbench.train", "workbench.data", "workbench.core"] in layers
    acyclic = [set(c["ancestors"]) for c in _contracts() if c["type"] == "acyclic_siblings"]
    assert any(LIBRARY <= a for a in acyclic)


def test_make_test_runs_the_contracts_before_the_suite():
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "lint-imports" in recipe and recipe.index("lint-imports") < recipe.index("pytest")
