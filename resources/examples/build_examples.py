"""Rebuild the bundled example projects (and their thumbnails) from the data in data/.

    .venv/bin/python resources/examples/build_examples.py

Each example is made exactly as a user would make it — `workbench new` with a template and a
data file — then given a one-line description. Run it after changing a template.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# folder: (template, description, extra `workbench new` arguments)
EXAMPLES = {
    "text-classifier": ("text-classifier", "Debian package descriptions → archive section (10 classes): "
                        "Embedding → mean → Linear, the classic fast text classifier.",
                        ["--data", DATA / "debian_sections" / "train.txt",
                         "--test-data", DATA / "debian_sections" / "test.txt"]),
    "iris-classifier": ("mlp-classifier", "Fisher's iris: species from four measurements with a small MLP.",
                        ["--data", DATA / "iris.csv"]),
    "iris-regressor": ("mlp-regressor", "Iris petal width predicted from the other three measurements "
                       "(regression, MSE).",
                       ["--data", DATA / "iris.csv", "--target", "petal_width", "--ignore", "species"]),
    "digits-cnn": ("cnn-classifier", "Hand-written digits as 1×8×8 images: two Conv2d blocks and a dense head.",
                   ["--data", DATA / "digits.csv", "--input-shape", "1,8,8"]),
    "lstm-text": ("lstm-classifier", "Debian package descriptions read word by word by an LSTM.",
                  ["--data", DATA / "debian_sections" / "train.txt",
                   "--test-data", DATA / "debian_sections" / "test.txt"]),
    "transformer-text": ("transformer-classifier", "A small Transformer encoder (learned positions, "
                         "4 heads) on the Debian descriptions.",
                         ["--data", DATA / "debian_sections" / "train.txt",
                          "--test-data", DATA / "debian_sections" / "test.txt"]),
}

# what an example marks as searched (docs/search.md): `workbench search` runs it once saved
SEARCH = {
    "iris-classifier": {"objective": "val_accuracy", "trials": 20, "space": [
        {"name": "lr", "kind": "float", "node": "n10", "param": "lr", "low": 1e-4, "high": 0.03, "log": True},
        {"name": "width", "kind": "int", "node": "n2", "param": "out_features", "low": 8, "high": 128, "log": True},
        {"name": "blocks", "kind": "repeat", "nodes": ["n4", "n5"], "low": 0, "high": 3},
        {"name": "batch", "kind": "choice", "setting": "batch_size", "choices": [8, 16, 32]}]},
}


def build() -> None:
    from workbench.cli import main
    from workbench.core import project as project_file

    for folder, (template, description, extra) in EXAMPLES.items():
        path = HERE / folder / "project.wbproj"
        name = folder.replace("-", " ")
        code = main(["new", str(path), "--template", template, "--name", name, "--force",
                     *map(str, extra)])
        if code:
            sys.exit(f"{folder}: workbench new failed")
        project = project_file.load(path)
        project.description = description
        if folder in SEARCH:
            from workbench.core import search_space
            search_space.store(project, search_space.from_dict(SEARCH[folder]))
        project_file.save(project, path)


def thumbnails() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("WORKBENCH_NO_SETTINGS", "1")
    import workbench.ui  # noqa: F401  (installs the PySide6 workaround first)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from workbench.ui import app as ui_app

    ui_app.make_app(dark=False)
    for folder in EXAMPLES:
        window = ui_app.open_window(HERE / folder / "project.wbproj")
        window.resize(1400, 860)
        window.show()
        QApplication.processEvents()
        window.document.validate_now()
        # The start of the model at a readable zoom: a whole long chain would be specks.
        view = window.view
        view.resize(760, 440)
        view.resetTransform()
        view.scale(0.75, 0.75)
        graph = window.document.project.graph
        first = next(n for n in graph.nodes.values() if n.type == "Input")
        view.centerOn(first.pos[0] + 440, first.pos[1] + 120)
        QApplication.processEvents()
        image = view.viewport().grab().scaled(380, 220, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation)
        image.save(str(HERE / folder / "thumbnail.png"))
        window.document.close()
        window.close()


if __name__ == "__main__":
    build()
    thumbnails()
