"""File › Export for Cluster…: GPUs per node, nodes, a folder; writes the cluster bundle
(workbench.export.cluster) off the UI thread and shows the torchrun commands, with Copy."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QVBoxLayout)

from workbench.ui.dialogs.widgets import browse_row, report_box
from workbench.ui.workers import Task, Threads


class ClusterDialog(QDialog):
    """`source`: a run folder (trained weights) or a .wbproj file; `out_dir`: where the bundle
    folder goes by default (`<out_dir>/<name>-cluster`); `threads`: the window's worker threads
    (stopped and waited for when it closes), else the dialog's own."""

    written = Signal(object)   # the ClusterBundle, once written

    def __init__(self, source: Path, out_dir: Path, name: str = "project", parent=None,
                 threads: Threads | None = None):
        super().__init__(parent)
        from workbench.export.cluster import data_argument
        self.setWindowTitle("Export for cluster")
        self.source = Path(source)
        self.data_arg = data_argument(self.source)
        self.bundle = None
        self.threads = threads or Threads(self)
        self.task: Task | None = None
        self.gpus = QSpinBox()
        self.gpus.setRange(1, 256)
        self.gpus.setValue(_gpu_count())
        self.gpus.setToolTip("Processes per machine: one per GPU (on CPUs: Gloo processes)")
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 4096)
        self.nodes.setToolTip("Machines; the multi-node command is written for at least 2")
        self.path = QLineEdit(str(Path(out_dir) / f"{name}-cluster"))
        row = browse_row(self.path, self._browse)
        form = QFormLayout()
        form.addRow("From", QLabel(self.source.name))
        form.addRow("GPUs per node", self.gpus)
        form.addRow("Nodes", self.nodes)
        form.addRow("Folder", row)
        self.commands = report_box()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.write_button = QPushButton("Write")
        self.write_button.setDefault(True)
        self.write_button.clicked.connect(self.start)
        self.copy_button = QPushButton("Copy Commands")
        self.copy_button.clicked.connect(self.copy)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.write_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.commands, 1)
        lay.addLayout(buttons)
        self.gpus.valueChanged.connect(self._preview)
        self.nodes.valueChanged.connect(self._preview)
        self.resize(760, 420)
        self._preview()

    def command_text(self) -> str:
        from workbench.export.cluster import commands
        n, m = self.gpus.value(), self.nodes.value()
        c = commands(n, m, self.data_arg)
        return (f"# one machine, {n} GPU(s), from the bundle folder:\n{c['single_node']}\n\n"
                f"# {max(m, 2)} machines: on each, with NODE_RANK=0 on the MASTER_ADDR machine\n"
                f"export MASTER_ADDR=<node-0-address> MASTER_PORT=29500 NODE_RANK=<0..{max(m, 2) - 1}>\n"
                f"{c['multi_node']}\n")

    @Slot()
    def _preview(self) -> None:
        self.commands.setPlainText(self.command_text())

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the cluster bundle into", self.path.text())
        if folder:
            self.path.setText(folder)

    @Slot()
    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.commands.toPlainText())
        self.status.setText("commands copied")

    @Slot()
    def start(self) -> bool:
        """Write the bundle in a worker thread; False when a write is still running."""
        if self.task is not None:
            return False
        from workbench.export.cluster import write_cluster_bundle
        args = (self.source, Path(self.path.text()).expanduser(), self.gpus.value(), self.nodes.value())
        self.task = Task(lambda report, cancelled: write_cluster_bundle(*args), expected=(Exception,))
        self.task.done.connect(self._done)
        self.task.failed.connect(self._failed)
        self.write_button.setEnabled(False)
        self.status.setText("writing…")
        self.threads.start(self.task)
        return True

    @Slot(int, object)
    def _done(self, _token: int, bundle) -> None:
        self.task = None
        self.bundle = bundle
        self.write_button.setEnabled(True)
        self.commands.setPlainText(self.command_text() + "\n" + bundle.summary())
        self.status.setText(f"written to {bundle.folder}" + ("" if bundle.passed else
                                                            " (model.py verification FAILED)"))
        self.written.emit(bundle)

    @Slot(int, str)
    def _failed(self, _token: int, message: str) -> None:
        self.task = None
        self.write_button.setEnabled(True)
        self.status.setText(f"error: {message}")


def _gpu_count() -> int:
    try:
        import torch
        return max(1, torch.cuda.device_count())
    except Exception:  # noqa: BLE001
        return 1
