"""File › Import Model…: the dialog checks its fields, imports in a worker thread, shows the
report and opens the written project; failures are one line."""
from __future__ import annotations

import json

import pytest

from workbench.ui.dialogs.import_dialog import InputError, parse_shape, source_spec

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
    assert window.document.path is None           # nothing opened
    assert dialog.import_button.isEnabled()
