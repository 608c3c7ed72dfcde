"""The "Export for cluster" dialog on its own: live command preview, writing the bundle off the
UI thread, errors shown in the dialog, Copy."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
import workbench.ui  # noqa: E402,F401  - first: the PySide6 None-refcount workaround


@pytest.fixture
def dialog(qtbot, iris_project, tmp_path):
    from workbench.ui.dialogs.cluster_dialog import ClusterDialog
    d = ClusterDialog(iris_project, tmp_path, "iris")
    qtbot.addWidget(d)
    return d


def test_preview_follows_the_spin_boxes_and_copies(dialog, tmp_path):
    from PySide6.QtGui import QGuiApplication
    assert dialog.path.text() == str(tmp_path / "iris-cluster")
    dialog.gpus.setValue(8)
    dialog.nodes.setValue(3)
    text = dialog.commands.toPlainText()
    assert "torchrun --standalone --nproc_per_node=8 train.py --data data/iris.csv" in text
    assert "--nnodes=3 --nproc_per_node=8 --node_rank=$NODE_RANK" in text
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == text


def test_write_runs_off_the_ui_thread_and_shows_the_result(dialog, qtbot, tmp_path):
    dialog.gpus.setValue(2)
    dialog.path.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.written, timeout=30000) as blocker:
        assert dialog.start()
    bundle = blocker.args[0]
    assert bundle.passed and (tmp_path / "out" / "run_single_node.sh").exists()
    assert dialog.write_button.isEnabled()
    assert "written to" in dialog.status.text()
    assert "wrote train.py" in dialog.commands.toPlainText()


def test_write_error_is_shown(qtbot, tmp_path):
    from workbench.ui.dialogs.cluster_dialog import ClusterDialog
    d = ClusterDialog(tmp_path / "missing.wbproj", tmp_path)
    qtbot.addWidget(d)
    assert "data/DATA.csv" in d.commands.toPlainText()
    d.start()
    qtbot.waitUntil(lambda: d.status.text().startswith("error:"), timeout=10000)
    assert d.write_button.isEnabled()
