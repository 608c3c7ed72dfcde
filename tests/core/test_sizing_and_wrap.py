"""The one data-size training rule (templates.sized_training) and the folded layout the app
uses to open a long example whole (layout.wrapped)."""
from __future__ import annotations

import pytest

from workbench.core import layout, templates
from workbench.core.project import default_training


@pytest.mark.parametrize("rows, task, expected", [
    (120, "classification", (200, 16, "val_accuracy", 30)),
    (120, "regression", (200, 16, "val_loss", 10)),
    (499, "classification", (200, 16, "val_accuracy", 30)),
    (500, "classification", (100, 32, "val_loss", 10)),
    (4999, "regression", (100, 32, "val_loss", 10)),
    (5000, "classification", (100, 64, "val_loss", 10)),
])
def test_sized_training(rows, task, expected):
    t = templates.apply_sizing(default_training(), rows, task)
    es = t["early_stopping"]
    assert (t["epochs"], t["batch_size"], es["metric"], es["patience"]) == expected
    assert es["enabled"] is True and es["restore_best"] is True      # the rest is kept


def test_every_template_takes_the_rule_and_may_pick_its_epochs():
    shape = templates.DataShape((40,), "int64", cardinality=100, num_classes=3, rows=300)
    text = templates.build("text-classifier", shape)
    assert text.training["epochs"] == 30                               # the template's own
    assert text.training["batch_size"] == templates.sized_training(300)["batch_size"] == 16
    mlp = templates.build("mlp-classifier", templates.DataShape((4,), num_classes=3, rows=300))
    assert mlp.training == templates.apply_sizing(default_training(), 300)


def test_wrapped_folds_a_long_chain_to_fit_the_window():
    chain = {f"n{i}": (i * layout.COLUMN, 0.0) for i in range(8)}
    folded = layout.wrapped(chain, 900, 600, node_size=(180, 110))
    xs = sorted({x for x, _ in folded.values()})
    ys = sorted({y for _, y in folded.values()})
    assert len(ys) > 1 and len(xs) < 8                                 # rows of columns
    order = sorted(chain, key=lambda n: (folded[n][1], folded[n][0]))
    assert order == list(chain)                                        # reads left to right, top down
    width = max(xs) + 180
    assert width / 900 < 8 * layout.COLUMN / 900                       # narrower than the strip
    assert layout.wrapped({}, 900, 600) == {}
