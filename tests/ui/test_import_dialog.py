"""File › Import Model…: the dialog checks its fields, imports in a worker thread, shows the
report and opens the written project; failures are one line."""
from __future__ import annotations

import json

import pytest

from workbench.ui.dialogs.import_dialog import InputError, parse_shape, source_spec, summary

NET = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.body(x))
'''


def test_shape_and_source_fields():
    assert parse_shape(" 3, 32,32 ") == (3, 32, 32)
    assert parse_shape("3x32x32") == (3, 32, 32)
    assert parse_shape("") is None
    with pytest.raises(InputError, match="every size must be positive"):
        parse_shape("3,0")
    with pytest.raises(InputError, match="whole numbers"):
        parse_shape("3,a")
    assert source_spec("/m/net.py", "Net") == "/m/net.py:Net"
    assert source_spec("pkg.mod:Net", "") == "pkg.mod:Net"
    assert source_spec("/m/a.onnx", "ignored") == "/m/a.onnx"
    with pytest.raises(InputError, match="net.py: name the nn.Module class"):
        source_spec("/m/net.py", "")
    with pytest.raises(InputError, match="not a Python name"):
        source_spec("/m/net.py", "os.system")


def test_report_of_an_import_that_does_not_match():
    info = {"nodes": 12, "opaque": 2, "parameters": 1234, "max_diff": 0.032, "matched": False,
            "report": ["12 nodes, 2 opaque",
                       "does not match the source: max relative difference 3.2e-02",
                       "Opaque 'gs1': no Workbench node for GridSample"]}
    assert summary(info).splitlines() == [
        "12 nodes · 2 opaque · 1,234 parameters",
        "max relative difference 3.2e-02: does NOT match the source model",
        "• Opaque 'gs1': no Workbench node for GridSample"]
    info["opaque_nodes"] = [("gs1", "aten.grid_sampler_2d.default", "")]
    assert summary(info).splitlines()[2] == "opaque 'gs1': aten.grid_sampler_2d.default"


def open_dialog(win, tmp_path):
    dialog = win.import_model()
    assert dialog.isVisible() and win.actions["import_model"] in win.menus["file"].actions()
    return dialog


def test_fields_are_checked_before_anything_runs(window, tmp_path):
    dialog = open_dialog(window, tmp_path)
    py = tmp_path / "net.py"
    py.write_text(NET)
    dialog.model.setText(str(py))
    assert dialog.class_name.isEnabled() and dialog.shape.isEnabled()
    assert dialog.dest.text() == str(tmp_path / "net.wbproj")    # follows the model file
    assert not dialog.start()
    assert dialog.error.text() == "net.py: name the nn.Module class to import from it"
    dialog.class_name.setText("Net")
    assert not dialog.start()
    assert dialog.error.text().endswith("a Python module needs the input shape (one sample, "
                                        "no batch: e.g. 4  or  3,32,32)")
    dialog.model.setText(str(tmp_path / "m.onnx"))
    assert not dialog.class_name.isEnabled() and not dialog.shape.isEnabled()
    assert dialog.dest.text() == str(tmp_path / "m.wbproj")
    assert dialog.task is None and not window.threads.busy()


def test_a_failing_import_is_one_line(window, qtbot, tmp_path):
    dialog = open_dialog(window, tmp_path)
    dialog.model.setText(str(tmp_path / "gone.py"))
    dialog.class_name.setText("Net")
    dialog.shape.setText("4")
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=20000)
    text = dialog.error.text()
    assert text.startswith("import failed: ") and "gone.py" in text and "\n" not in text
    assert "Traceback" not in text and not (tmp_path / "gone.wbproj").exists()
    from PySide6.QtCore import Qt
    assert dialog.error.textFormat() == Qt.PlainText   # file names are never markup
    assert window.document.path is None           # nothing opened
    assert dialog.import_button.isEnabled()


def test_a_python_module_is_imported_in_a_worker_and_opened(make_window, qtbot, tmp_path,
                                                            monkeypatch):
    import threading

    import workbench.importers as importers
    win = make_window("mlp-classifier")
    win.document.push(__import__("workbench.ui.editor.commands", fromlist=["x"]).SetTrainable(
        win.graph, [win.graph.by_title("fc1").id], False))         # unsaved changes
    answers = ["cancel", "discard"]
    asked = []
    win.ask_unsaved = lambda: asked.append(1) or answers[len(asked) - 1]
    threads = []
    real = importers.import_model

    def spy(source, input_shape=None, opset=None):
        threads.append(threading.current_thread())
        return real(source, input_shape)
    monkeypatch.setattr(importers, "import_model", spy)
    py = tmp_path / "net.py"
    py.write_text(NET)
    dialog = open_dialog(win, tmp_path)
    dialog.model.setText(str(py))
    dialog.class_name.setText("Net")
    dialog.shape.setText("4")
    dest = tmp_path / "net.wbproj"
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    assert threads and threads[0] is not threading.main_thread()
    # kept the current project (the unsaved-changes question was cancelled), file written
    assert asked == [1] and win.document.path is None and win.document.dirty
    assert dest.exists() and (tmp_path / "net.weights.safetensors").exists()
    assert win.statusBar().currentMessage() == f"imported to {dest}; open it with File › Open"
    report = dialog.report.toPlainText()
    assert report.splitlines()[:3] == [
        f"written to {dest}", "5 nodes · 0 opaque · 67 parameters",
        "max relative difference 0.0e+00: matches the source model"]
    # again: the file exists, the dialog asks before replacing it; now the project opens
    replace = []
    dialog.ask_replace = lambda path: replace.append(path) or True
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    assert replace == [dest] and asked == [1, 1]
    assert win.document.path == dest
    assert [n.type for n in win.graph.nodes.values()] == ["Input", "Linear", "ReLU", "Linear",
                                                          "Output"]
    assert win.statusBar().currentMessage() == ("imported 'net': 5 nodes, 0 opaque, max "
                                               "difference 0.0e+00, matches the source")
    assert json.loads(dest.read_text())["weights"]["file"] == "net.weights.safetensors"
    assert set(win.scene.nodes) == set(win.graph.nodes)


def test_an_existing_project_is_not_replaced_without_asking(window, tmp_path):
    dialog = open_dialog(window, tmp_path)
    (tmp_path / "net.wbproj").write_text("{}")
    dialog.model.setText(str(tmp_path / "net.py"))
    dialog.class_name.setText("Net")
    dialog.shape.setText("4")
    dialog.ask_replace = lambda path: False
    assert not dialog.start()
    assert dialog.error.text() == f"{tmp_path / 'net.wbproj'}: already exists; choose another name"
    assert (tmp_path / "net.wbproj").read_text() == "{}" and dialog.task is None


SHUFFLE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.head = nn.Linear(2 * 8 * 8, 3)

    def forward(self, x):
        y = F.pixel_shuffle(self.conv(x), 2)
        return self.head(torch.flatten(y, 1))
'''


def test_an_op_without_a_node_arrives_as_an_opaque_node(window, qtbot, tmp_path, monkeypatch,
                                                         artifacts):
    monkeypatch.chdir(tmp_path)       # short relative names: the screenshot reads well
    (tmp_path / "shuffle.py").write_text(SHUFFLE)
    dialog = open_dialog(window, tmp_path)
    dialog.model.setText("shuffle.py")
    dialog.class_name.setText("Shuffle")
    dialog.shape.setText("4,4,4")
    dialog.dest.setText("shuffle.wbproj")
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    assert dialog.report.toPlainText().splitlines()[1:4] == [
        "6 nodes · 1 opaque · 683 parameters",
        "max relative difference 0.0e+00: matches the source model",
        "opaque 'pixel_shuffle': torch.nn.functional.pixel_shuffle (no Workbench node for "
        "torch.nn.functional.pixel_shuffle)"]
    assert not [line for line in dialog.report.toPlainText().splitlines() if "• opaque" in line]
    assert dialog.grab().save(str(artifacts / "import-dialog.png"))   # looked at
    assert window.document.path.resolve() == (tmp_path / "shuffle.wbproj").resolve()
    opaque = [n for n in window.graph.nodes.values() if n.type == "Opaque"]
    assert len(opaque) == 1 and "pixel_shuffle" in opaque[0].params["op"]
    item = window.scene.nodes[opaque[0].id]
    assert item.opaque and "pixel_shuffle" in item.param_summary
    assert window.statusBar().currentMessage().startswith("imported 'shuffle': 6 nodes, 1 opaque")


def tiny_onnx(path) -> None:
    """Gemm + Relu, written with onnx.helper (no exporter: quick)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.random.RandomState(0).randn(3, 4).astype("float32"), "W")
    b = numpy_helper.from_array(np.full(3, 0.5, dtype="float32"), "b")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1, name="fc"),
         helper.make_node("Relu", ["h"], ["y"], name="act")], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_an_onnx_file_needs_no_shape_and_opens(window, qtbot, tmp_path):
    tiny_onnx(tmp_path / "tiny.onnx")
    dialog = open_dialog(window, tmp_path)
    dialog.model.setText(str(tmp_path / "tiny.onnx"))
    dialog.shape.setText("junk")               # off for ONNX: never read
    assert not dialog.shape.isEnabled() and not dialog.class_name.isEnabled()
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    lines = dialog.report.toPlainText().splitlines()
    assert lines[1] == "4 nodes · 0 opaque · 15 parameters"
    assert lines[2].endswith(": matches the source model")
    assert window.document.path == tmp_path / "tiny.wbproj"
    assert [(n.title, n.type) for n in window.graph.nodes.values()] == [
        ("x", "Input"), ("fc", "Linear"), ("act", "ReLU"), ("y", "Output")]


def test_dropping_a_model_file_opens_the_dialog_with_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    model = tmp_path / "zoo.onnx"
    model.write_bytes(b"")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(model))])
    window.view.dropEvent(QDropEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton,
                                     Qt.NoModifier))
    dialog = window.import_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.model.text() == str(model) and dialog.dest.text() == str(tmp_path / "zoo.wbproj")
    assert dialog.task is None                      # nothing runs until Import is pressed
