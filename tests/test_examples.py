"""Every bundled example opens valid, its data prepares, and it trains an epoch."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.core import analyse, load
from workbench.data import DataSettings, prepare
from workbench.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*/project.wbproj"))


def test_the_examples_are_there():
    names = {p.parent.name for p in EXAMPLES}
    assert {"text-classifier", "iris-classifier", "iris-regressor", "digits-cnn", "lstm-text",
            "transformer-text", "image-classifier"} <= names
    makefile = (ROOT / "Makefile").read_text()
    assert "resources/examples/text-classifier/project.wbproj" in makefile  # what `make run` opens
    for path in EXAMPLES:
        assert (path.parent / "thumbnail.png").stat().st_size > 1000
        assert load(path).description


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_validates_and_trains_one_epoch(path):
    project = load(path)
    assert analyse(project.graph).valid
    data = prepare(DataSettings.from_dict(project.data), path.parent)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = Trainer(project, data, epochs=1, save=False).run()
    finally:
        torch.set_num_threads(threads)
    assert result.status == "completed", result.message
    assert result.epochs_run == 1
    metric = "accuracy" if data.task == "classification" else "r2"
    assert metric in result.summary["test"]
    # One epoch already beats chance (majority class / predicting the mean).
    if data.task == "classification":
        counts = torch.bincount(data.test.y)
        assert result.summary["test"]["accuracy"] > counts.max().item() / counts.sum().item()
