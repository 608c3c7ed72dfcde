"""File › Export…: every registered format (workbench.export.formats), compression, and
"Open Folder"."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLineEdit, QProgressBar, QPushButton,
                               QVBoxLayout)

from workbench.export import formats
from workbench.train.compare import run_name
from workbench.ui.dialogs.widgets import browse_row, report_box


class ExportDialog(QDialog):
    def __init__(self, exporter, runs: list[Path], selected: Path | None, out_dir: Path,
                 name: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export trained model")
        self.exporter, self.out_dir, self.name = exporter, Path(out_dir), name
        self.run = QComboBox()
        for r in runs:
            self.run.addItem(run_name(r), str(r))   # a trial: "search-lr / trial 3"
        if selected is not None:
            self.run.setCurrentIndex(max(0, self.run.findData(str(selected))))
        self.checkpoint = QComboBox()
        self.checkpoint.addItems(["best", "last"])
        self.format = QComboBox()
        for i, f in enumerate(formats.all_formats()):
            self.format.addItem(f.label, f.name)
            self.format.setItemData(i, f"{f.help}; checked by {f.verify} before it is written", Qt.ToolTipRole)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.path = QLineEdit()
        row = browse_row(self.path, self._browse)
        self.with_pre = QCheckBox("put the preprocessing (scaling, category maps) into the ONNX model")
        self.quantize = QCheckBox("int8 dynamic quantisation (ONNX)")
        self.prune = QDoubleSpinBox()
        self.prune.setRange(0.0, 0.95)
        self.prune.setSingleStep(0.1)
        self.prune.setSpecialValueText("off")
        self.zip = QCheckBox("as one .zip file")
        form = QFormLayout()
        form.addRow("Run", self.run)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Format", self.format)
        form.addRow("Save to", row)
        form.addRow("Preprocessing", self.with_pre)
        form.addRow("Quantise", self.quantize)
        form.addRow("Prune (share of weights)", self.prune)
        form.addRow("Bundle", self.zip)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.report = report_box("The export report (files, verification) appears here.")
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.open_button = QPushButton("Open Folder")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_folder)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.report, 1)
        lay.addLayout(buttons)
        self.resize(640, 480)
        exporter.finished.connect(self._finished)
        exporter.failed.connect(self._failed)
        self._format_changed()

    def fmt(self) -> str:
        return self.format.currentData()

    def record(self) -> formats.ExportFormat:
        return formats.get(self.fmt())

    def _default_path(self) -> Path:
        return self.record().default_path(self.out_dir, self.name, zipped=self.zip.isChecked())

    @Slot()
    def _format_changed(self, *_) -> None:
        takes = self.record().options
        self.with_pre.setEnabled(formats.PREPROCESSING in takes)
        self.quantize.setEnabled(formats.QUANTIZE in takes)
        self.prune.setEnabled(formats.PRUNE in takes)
        self.zip.setEnabled(formats.ZIP in takes)
        self.path.setText(str(self._default_path()))

    def _browse(self) -> None:
        if self.record().folder and not (self.zip.isEnabled() and self.zip.isChecked()):
            path = QFileDialog.getExistingDirectory(self, "Export to folder", str(self.out_dir))
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text())
        if path:
            self.path.setText(path)

    def options(self) -> dict:
        opts = {"checkpoint": self.checkpoint.currentText()}
        if self.with_pre.isEnabled() and self.with_pre.isChecked():
            opts["with_preprocessing"] = True
        if self.quantize.isEnabled() and self.quantize.isChecked():
            opts["quantize"] = "int8"
        if self.prune.isEnabled() and self.prune.value() > 0:
            opts["prune"] = round(self.prune.value(), 3)
        if self.zip.isEnabled():
            opts["zip_bundle"] = self.zip.isChecked()
        return opts

    @Slot()
    def start(self) -> bool:
        run = self.run.currentData()
        if not run:
            self.report.setPlainText("No run to export: train the model first.")
            return False
        if not self.exporter.start(Path(run), self.fmt(), Path(self.path.text()), **self.options()):
            return False
        self.export_button.setEnabled(False)
        self.progress.show()
        self.report.setPlainText("exporting…")
        return True

    @Slot(object)
    def _finished(self, report) -> None:
        self.export_button.setEnabled(True)
        self.progress.hide()
        self.report.setPlainText(report.summary())
        self.open_button.setEnabled(report.path is not None)
        self.last_path = report.path

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.export_button.setEnabled(True)
        self.progress.hide()
        self.report.setPlainText(f"error: {message}")

    def open_folder(self) -> None:
        path = getattr(self, "last_path", None)
        if path is not None:
            folder = path if path.is_dir() else path.parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
