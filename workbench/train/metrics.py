"""Evaluation metrics, accumulated on the device batch by batch and read once at the end.

Classification: accuracy, balanced accuracy (mean recall over the classes that occur in the
true labels, as scikit-learn's balanced_accuracy_score), and precision/recall/F1 macro-averaged
over the classes that occur in the true labels or the predictions (scikit-learn's default label
set, with 0 where a ratio has no denominator), plus per-class precision/recall/F1/support
(`per_class`, by class index) and the confusion matrix (rows = true class, columns = predicted).
On imbalanced classes accuracy flatters a model that ignores the minority: the per-class rows
and balanced accuracy show it.
Regression: MSE, MAE and R² (averaged uniformly over target columns, as scikit-learn does).
Every figure is derived from a few sums, so a whole split costs one read from the device.
"""
from __future__ import annotations

import torch

CLASSIFICATION = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro")
REGRESSION = ("mse", "mae", "r2")
HIGHER_IS_BETTER = {"accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
                    "r2"}


def names(task: str) -> tuple[str, ...]:
    return CLASSIFICATION if task == "classification" else REGRESSION


def higher_is_better(metric: str) -> bool:
    return metric.removeprefix("val_").removeprefix("train_") in HIGHER_IS_BETTER


class Accumulator:
    """Sums of one split's evaluation; `add` per batch (no sync), `result` once."""

    def __init__(self, task: str, num_classes: int = 0, device: torch.device | str = "cpu"):
        self.task, self.num_classes = task, num_classes
        wide = torch.float32 if torch.device(device).type == "mps" else torch.float64
        self.dtype, self.device = wide, device
        self.loss_sum = torch.zeros((), dtype=wide, device=device)
        self.count = 0
        if task == "classification":
            self.confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
        else:
            self.sums = None  # (5, columns): err², |err|, y, y², (unused) — created on first batch

    def add(self, output: torch.Tensor, target: torch.Tensor, loss: torch.Tensor | None = None) -> None:
        n = target.shape[0]
        self.count += n
        if loss is not None:
            self.loss_sum += loss.detach().to(self.dtype) * n
        if self.task == "classification":
            pred = output.detach().argmax(dim=1)
            k = self.num_classes
            self.confusion += torch.bincount(target.reshape(-1) * k + pred.reshape(-1), minlength=k * k)
        else:
            out = output.detach().to(self.dtype).reshape(n, -1)
            y = target.detach().to(self.dtype).reshape(n, -1)
            err = out - y
            batch = torch.stack([(err * err).sum(0), err.abs().sum(0), y.sum(0), (y * y).sum(0)])
            self.sums = batch if self.sums is None else self.sums + batch

    def result(self) -> dict:
        out: dict = {}
        if self.count == 0:
            return out
        out["loss"] = float(self.loss_sum) / self.count
        if self.task == "classification":
            k = self.num_classes
            out.update(classification(self.confusion.reshape(k, k).cpu()))
        else:
            out.update(regression(self.sums.cpu(), self.count))
        return out


def classification(confusion: torch.Tensor) -> dict:
    """Metrics from a confusion matrix (rows true, columns predicted)."""
    cm = confusion.to(torch.float64)
    total = cm.sum()
    tp = cm.diag()
    true_count, pred_count = cm.sum(1), cm.sum(0)
    present = (true_count + pred_count) > 0
    precision = torch.where(pred_count > 0, tp / pred_count.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(true_count > 0, tp / true_count.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), torch.zeros_like(tp))
    n_present = max(int(present.sum()), 1)
    n_true = max(int((true_count > 0).sum()), 1)
    return {
        "accuracy": float(tp.sum() / total) if total > 0 else 0.0,
        "balanced_accuracy": float(recall[true_count > 0].sum()) / n_true,
        "precision_macro": float(precision[present].sum()) / n_present,
        "recall_macro": float(recall[present].sum()) / n_present,
        "f1_macro": float(f1[present].sum()) / n_present,
        "per_class": {"precision": precision.tolist(), "recall": recall.tolist(),
                      "f1": f1.tolist(), "support": true_count.to(torch.long).tolist()},
        "confusion_matrix": confusion.to(torch.long).tolist(),
    }


def regression(sums: torch.Tensor, n: int) -> dict:
    """Metrics from per-column sums: [Σerr², Σ|err|, Σy, Σy²]."""
    sse, sae, sy, syy = sums.to(torch.float64)
    sst = syy - sy * sy / n
    r2 = torch.where(sst > 0, 1 - sse / sst.clamp(min=1e-300),
                     torch.where(sse > 0, torch.zeros_like(sse), torch.ones_like(sse)))
    return {"mse": float(sse.mean()) / n, "mae": float(sae.mean()) / n, "r2": float(r2.mean())}
