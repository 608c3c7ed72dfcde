"""A rare class in the app: the data panel warns and weighs the loss as one undoable edit, and
the results show precision/recall/F1 per class with a missed class in red."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch

from workbench.train import metrics


def rare_table(path):
    """scikit-learn's digits as "is it a 0?", the zeros thinned to 3 % of the rows."""
    from sklearn import datasets
    frame = datasets.load_digits(as_frame=True).frame
    frame["label"] = np.where(frame.pop("target") == 0, "zero", "other")
    other, zero = frame[frame.label == "other"], frame[frame.label == "zero"]
    frame = pd.concat([other, zero.iloc[:50]]).sample(frac=1, random_state=0)
    frame.to_csv(path, index=False)
    return path


def test_the_data_panel_warns_and_weighs_classes_undoably(make_window, qtbot, tmp_path, artifacts):
    win = make_window("mlp-classifier", size=(1400, 900))
    win.workflow.open_data(str(rare_table(tmp_path / "rare.csv")))
    panel = win.workflow.data
    qtbot.waitUntil(lambda: panel.loaded is not None, timeout=30_000)
    first = panel.warn_label.text().splitlines()[0]      # before the constant-pixel warnings
    assert re.match(r"⚠ class 'zero' is [23]\.\d % of the training rows", first), first
    assert panel.warn_label.isVisibleTo(panel) and panel.weigh.isEnabled()
    graph = win.document.graph
    before = graph.to_dict()
    loss = next(n for n in graph.nodes.values() if n.type == "CrossEntropy")
    assert not panel.weigh.isChecked()
    panel.weigh.setChecked(True)
    assert loss.params["class_weight"] == "balanced"
    win.document.undo_stack.undo()
    assert graph.to_dict() == before and not panel.weigh.isChecked()   # the box follows the graph
    win.document.undo_stack.redo()
    assert panel.weigh.isChecked()
    panel.grab().save(str(artifacts / "data-panel-rare-class.png"))


def test_results_show_each_class_and_mark_a_missed_one(app, qtbot, artifacts):
    from workbench.ui.panels.results_view import ResultsView
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(1000, 420)
    confusion = torch.tensor([[480, 2], [9, 6]])        # most of the rare class missed
    test = metrics.classification(confusion)
    view.show_summary({"task": "classification", "classes": ["other", "zero"], "test": test,
                       "val": test, "train": test})
    table = view.classes
    assert table.isVisibleTo(view) and table.rowCount() == 2
    rows = {table.item(r, 0).text(): r for r in range(2)}
    zero = rows["zero"]
    assert table.item(zero, 2).data(0) == round(6 / 15, 3)              # recall of 'zero'
    assert table.item(zero, 4).data(0) == 15                            # its rows
    assert table.item(zero, 2).foreground().color().name() == "#d04040"
    assert table.item(rows["other"], 2).foreground().color().name() != "#d04040"
    names = [view.table.item(r, 0).text() for r in range(view.table.rowCount())]
    assert "balanced_accuracy" in names and "per_class" not in names
    view.show()
    qtbot.waitExposed(view)
    view.grab().save(str(artifacts / "results-per-class.png"))
