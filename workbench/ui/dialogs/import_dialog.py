"""File › Import Model…: an ONNX file, a `.pt2` program or a PyTorch module as a new project.

The import (tracing, mapping, the check against the source model) runs in a worker thread
through `workbench.importers` (what `workbench import` calls); the dialog then shows the report
and the window opens the written project like File › Open (unsaved changes asked about first).
"""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QProgressBar, QPushButton, QVBoxLayout)

from workbench.ui.dialogs.widgets import browse_row, report_box
from workbench.ui.workers import Task, keep_ui_core

MODEL_FILTER = ("Models (*.onnx *.pt2 *.py);;ONNX (*.onnx);;PyTorch program (*.pt2);;"
                "Python module (*.py);;All files (*)")
SHAPE_HINT = "one sample, no batch: e.g. 4  or  3,32,32"


class InputError(ValueError):
    """What the user typed cannot start an import; the message says which field and why."""


def parse_shape(text: str) -> tuple[int, ...] | None:
    """'3, 32, 32' / '3x32x32' → (3, 32, 32); empty → None."""
    parts = [p for p in re.split(r"[,\sx×]+", text.strip()) if p]
    if not parts:
        return None
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"input shape '{text.strip()}': whole numbers separated by commas "
                         f"({SHAPE_HINT})") from None
    if any(d <= 0 for d in dims):
        raise InputError(f"input shape '{text.strip()}': every size must be positive")
    return dims


def source_spec(model: str, class_name: str) -> str:
    """What `import_model` takes: a file path, `file.py:Class` or `package.module:Class`."""
    model, class_name = model.strip(), class_name.strip()
    if not model:
        raise InputError("choose a model file (.onnx, .pt2, .py) or type package.module:Class")
    if model.lower().endswith(".py"):
        if not class_name:
            raise InputError(f"{Path(model).name}: name the nn.Module class to import from it")
        if not class_name.isidentifier():
            raise InputError(f"class name '{class_name}' is not a Python name")
        return f"{model}:{class_name}"
    return model


def is_module(spec: str) -> bool:
    """A PyTorch module spec (needs an input shape), not a file that records its own."""
    return not spec.lower().endswith((".onnx", ".pt2"))


def import_job(source: str, shape, dest: Path, force: bool):
    def job(report, cancelled):
        from workbench.importers import describe, import_model, write
        keep_ui_core()       # tracing and the check use every core otherwise: the window lags
        report(-1, f"importing {source}")
        result = import_model(source, shape)
        report(-1, f"writing {dest}")
        path = write(result, dest, force=force)
        info = describe(result)
        info["opaque_nodes"] = [(n.title, str(n.params.get("op", "")), str(n.params.get("reason", "")))
                                for n in result.project.graph.nodes.values() if n.type == "Opaque"]
        return path, info
    return job


def summary(info: dict) -> str:
    """The report: figures first, then the importer's own lines (plain text: they quote the
    user's file)."""
    diff = info.get("max_diff")
    verdict = ("matches the source model" if info.get("matched") else
               "does NOT match the source model" if diff is not None else "not verified")
    lines = [f"{info['nodes']} nodes · {info['opaque']} opaque · "
             f"{info.get('parameters') or 0:,} parameters",
             f"max relative difference {diff:.1e}: {verdict}" if diff is not None else verdict]
    lines += [f"opaque '{title}': {op}" + (f" ({reason})" if reason else "")
              for title, op, reason in info.get("opaque_nodes", [])]
    said = f"{info['nodes']} nodes, {info['opaque']} opaque"
    lines += [f"• {line}" for line in info.get("report", [])   # not the figures once more,
              if line != said                                  # nor the opaque nodes listed above
              and not line.startswith(("matches ", "does not match ", "opaque: "))]
    return "\n".join(lines)


class ImportDialog(QDialog):
    imported = Signal(object)        # the written project's Path

    def __init__(self, threads, start_dir: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import model")
        self.threads, self.start_dir = threads, Path(start_dir)
        self.task: Task | None = None
        self.info: dict | None = None
        self._auto_dest = ""
        self.model = QLineEdit()
        self.model.setObjectName("model")
        self.model.setPlaceholderText("model.onnx, program.pt2, net.py — or package.module:Class")
        self.model.textChanged.connect(self._model_changed)
        model_row = browse_row(self.model, self._browse_model)
        self.class_name = QLineEdit()
        self.class_name.setObjectName("class_name")
        self.class_name.setPlaceholderText("the nn.Module class in the .py file, e.g. Net")
        self.shape = QLineEdit()
        self.shape.setObjectName("shape")
        self.shape.setPlaceholderText(SHAPE_HINT)
        self.shape.setToolTip("The shape of one input sample (no batch). Needed for a Python "
                              "module; an ONNX or .pt2 file records its own.")
        self.dest = QLineEdit()
        self.dest.setObjectName("dest")
        self.dest.setPlaceholderText("the new project, e.g. model.wbproj (its weights go beside it)")
        dest_row = browse_row(self.dest, self._browse_dest)
        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow("Class", self.class_name)
        form.addRow("Input shape", self.shape)
        form.addRow("Save as", dest_row)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setTextFormat(Qt.PlainText)    # it quotes file names and the importer's text
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828; font-weight: bold")
        self.error.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.report = report_box("The import report (nodes, opaque nodes, the check against "
                                 "the source model) appears here.")
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.report, 1)
        lay.addLayout(buttons)
        self.resize(620, 420)
        self._model_changed("")

    # -- fields -----------------------------------------------------------------------------
    def _model_changed(self, text: str) -> None:
        text = text.strip()
        self.class_name.setEnabled(text.lower().endswith(".py"))
        self.shape.setEnabled(not text.lower().endswith((".onnx", ".pt2")))
        if self.dest.text() == self._auto_dest:   # follow the model until the user edits it
            self._auto_dest = str(self._default_dest(text)) if text else ""
            self.dest.setText(self._auto_dest)

    def _default_dest(self, model: str) -> Path:
        where = model.split(":")[0]
        if where.lower().endswith((".onnx", ".pt2", ".py")):
            path = Path(where)
            folder = path.parent if path.is_absolute() else self.start_dir / path.parent
            return folder / f"{path.stem}.wbproj"
        return self.start_dir / f"{where.rsplit('.', 1)[-1] or 'model'}.wbproj"

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import model", str(self.start_dir), MODEL_FILTER)
        if path:
            self.model.setText(path)

    def _browse_dest(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the imported project as",
                                              self.dest.text() or str(self.start_dir),
                                              "Workbench projects (*.wbproj)")
        if path:
            self.dest.setText(path)

    def ask_replace(self, path: Path) -> bool:
        """Whether to replace an existing project (tests replace this)."""
        return QMessageBox.question(
            self, "Replace project?", f"{path} (or its weights file) already exists. Replace it?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No) == QMessageBox.Yes

    def _refuse(self, text: str) -> bool:
        self.error.setText(text)
        self.error.show()
        return False

    # -- running ----------------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        """Check the fields and start the import in a worker thread; False (with the reason
        shown) if it did not start."""
        if self.task is not None:
            return self._refuse("an import is already running")
        from workbench.core import weights
        try:
            source = source_spec(self.model.text(), self.class_name.text())
            shape = parse_shape(self.shape.text()) if self.shape.isEnabled() else None
            if shape is None and is_module(source):
                raise InputError(f"{source}: a Python module needs the input shape "
                                 f"({SHAPE_HINT})")
            dest_text = self.dest.text().strip()
            if not dest_text:
                raise InputError("choose where to save the imported project (.wbproj)")
        except InputError as exc:
            return self._refuse(str(exc))
        dest = Path(dest_text)
        if dest.suffix != ".wbproj":
            dest = dest.with_suffix(".wbproj")
        force = False
        if dest.exists() or weights.weights_path(dest).exists():
            if not self.ask_replace(dest):
                return self._refuse(f"{dest}: already exists; choose another name")
            force = True
        from workbench.core.project import ProjectError
        from workbench.importers import ImportError_
        task = Task(import_job(source, shape, dest, force),
                    expected=(ImportError_, ProjectError, OSError, ValueError))
        task.done.connect(self._done)
        task.failed.connect(self._failed)
        task.progress.connect(self._progress)
        self.task, self.info = task, None
        self.error.hide()
        self.import_button.setEnabled(False)
        self.progress.show()
        self.report.setPlainText(f"importing {source}…")
        self.threads.start(task)
        return True

    def busy(self) -> bool:
        return self.task is not None

    @Slot(int, int, str)
    def _progress(self, token: int, percent: int, text: str) -> None:
        if self.task is not None and token == self.task.token and text:
            self.report.setPlainText(f"{text}…")

    @Slot(int, object)
    def _done(self, token: int, result) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        path, self.info = result
        self.import_button.setEnabled(True)
        self.progress.hide()
        self.report.setPlainText(f"written to {path}\n{summary(self.info)}")
        self.imported.emit(Path(path))

    @Slot(int, str)
    def _failed(self, token: int, message: str) -> None:
        if self.task is None or token != self.task.token:
            return
        self.task = None
        self.import_button.setEnabled(True)
        self.progress.hide()
        self.report.setPlainText("")
        self._refuse(f"import failed: {message}")

    def closeEvent(self, event) -> None:
        if self.task is not None:     # the thread finishes on its own; its result is dropped
            self.task.cancel()
            self.task = None
            self.import_button.setEnabled(True)
            self.progress.hide()
        super().closeEvent(event)
