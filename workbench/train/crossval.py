"""k-fold cross-validation: how well a project's model does on data it has not seen, with a
spread, when the data set is too small for one validation split to be trusted.

Each fold refits the preprocessing on its own training rows (workbench.data.kfold) and trains
from the same initial weights; early stopping watches that fold's validation rows, as in a
normal run, so the figures are those a user would see — slightly optimistic, as always when
one split both stops and scores. Nothing is written to disk: train once more without folds
to get a model.
"""
from __future__ import annotations

import math

from workbench.train.trainer import Trainer, TrainingError


def cross_validate(project, settings, base_dir, k: int, callbacks=(), **overrides) -> dict:
    """{"k", "folds": [{"fold", "epochs_run", "val": metrics}], "mean": metrics, "std": metrics}."""
    from workbench.data import kfold

    folds = []
    for data in kfold(settings, base_dir, k):
        result = Trainer(project, data, save=False, callbacks=callbacks, **overrides).run()
        if result.status == "failed":
            raise TrainingError(f"fold {data.fold + 1} of {k}: {result.message}")
        folds.append({"fold": data.fold + 1, "epochs_run": result.epochs_run,
                      "val": result.summary.get("val") or {}})
    names = [n for n, v in folds[0]["val"].items() if isinstance(v, (int, float))]
    mean = {n: sum(f["val"][n] for f in folds) / len(folds) for n in names}
    std = {n: math.sqrt(sum((f["val"][n] - mean[n]) ** 2 for f in folds) / max(1, len(folds) - 1))
           for n in names}
    return {"k": k, "folds": folds, "mean": mean, "std": std}


def table(report: dict) -> str:
    names = list(report["mean"])
    rows = [["fold", *names]]
    rows += [[str(f["fold"]), *(f"{f['val'][n]:.4f}" for n in names)] for f in report["folds"]]
    rows.append(["mean", *(f"{report['mean'][n]:.4f}" for n in names)])
    rows.append(["± std", *(f"{report['std'][n]:.4f}" for n in names)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 2, "  ".join("-" * w for w in widths))
    return f"{report['k']}-fold cross-validation (validation metrics per fold)\n" + "\n".join(lines)
