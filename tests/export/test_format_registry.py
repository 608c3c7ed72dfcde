"""One registry of export formats: a format registered once is in the CLI's --format choices and
help, in the app's Export dialog, and `export_run` dispatches to it; options a format does not
take are refused by the registry's word."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbench.export import formats
from workbench.export.report import Check, ExportError, ExportReport, Verification

CALLS: list[tuple] = []


def _write_dummy(run, path: Path, options) -> ExportReport:
    from workbench.core.atomic import write_text
    CALLS.append((run.checkpoint, path, options.quantize))
    write_text(path, f"a dummy export of {run.project.name}\n")
    report = ExportReport("dummy")
    report.add_path(path)
    report.verification = Verification("read back", checks=[Check({"batch": 5}, 0.0, 0.0)])
    return report


@pytest.fixture
def dummy():
    fmt = formats.register(formats.ExportFormat(
        "dummy", "Dummy text (.dummy)", ".dummy", False, _write_dummy, "read back",
        "dummy (a text file, for the tests)"))
    CALLS.clear()
    yield fmt
    formats.unregister("dummy")


@pytest.fixture
def iris(small_iris_run):
    return small_iris_run


def _export_parser():
    from workbench.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["export"]


def test_the_built_in_formats_are_registered_in_menu_order():
    assert formats.names() == ["onnx", "pt2", "torchscript", "python", "bundle", "cluster"]
    assert [f.name for f in formats.all_formats() if f.folder] == ["python", "bundle", "cluster"]
    assert formats.accepting(formats.QUANTIZE) == ["onnx", "bundle"]
    with pytest.raises(ExportError, match="export format 'onnx' is already registered"):
        formats.register(formats.get("onnx"))


def test_a_registered_format_is_in_the_cli_and_export_run_dispatches_to_it(dummy, iris, tmp_path, capsys):
    export = _export_parser()
    option = next(a for a in export._actions if a.dest == "format")
    assert option.choices == ["onnx", "pt2", "torchscript", "python", "bundle", "cluster", "dummy"]
    assert "dummy (a text file, for the tests), checked by read back" in option.help
    from workbench.cli import main
    target = tmp_path / "m.dummy"
    code = main(["export", str(iris / "project.wbproj"), "--run", str(iris), "--format", "dummy",
                 "-o", str(target), "--checkpoint", "last"])
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith("verification passed"), out
    assert CALLS == [("last", target, None)]
    assert target.read_text() == "a dummy export of mlp-classifier\n"
    # options the record does not list are refused, naming the formats that take them
    from workbench.export.api import export_run
    with pytest.raises(ExportError, match=r"--quantize int8 quantises the ONNX model: use it with "
                                          r"--format onnx or bundle"):
        export_run(iris, "dummy", target, quantize="int8")
    with pytest.raises(ExportError, match=r"unknown format 'nope'; choose one of: onnx, pt2, torchscript, "
                                          r"python, bundle, cluster, dummy"):
        export_run(iris, "nope", target)


def test_a_registered_format_is_in_the_export_dialog(dummy, qapp, qtbot, tmp_path):
    from workbench.ui.dialogs.export_dialog import ExportDialog
    from workbench.ui.exporter import Exporter
    dialog = ExportDialog(Exporter(None), [], None, tmp_path, "iris")
    qtbot.addWidget(dialog)
    items = [(dialog.format.itemData(i), dialog.format.itemText(i)) for i in range(dialog.format.count())]
    assert items[-1] == ("dummy", "Dummy text (.dummy)")
    assert [k for k, _ in items] == formats.names()
    from PySide6.QtCore import Qt
    assert dialog.format.itemData(len(items) - 1, Qt.ToolTipRole) == (
        "dummy (a text file, for the tests); checked by read back before it is written")
    dialog.format.setCurrentIndex(len(items) - 1)
    assert dialog.path.text() == str(tmp_path / "iris.dummy")
    assert not dialog.quantize.isEnabled() and not dialog.zip.isEnabled() and dialog.prune.isEnabled()
    dialog.format.setCurrentIndex(formats.names().index("bundle"))
    assert dialog.path.text() == str(tmp_path / "iris-bundle")
    assert dialog.quantize.isEnabled() and dialog.zip.isEnabled()
