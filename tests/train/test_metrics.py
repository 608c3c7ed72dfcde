"""Metrics against a plain numpy computation of the textbook definitions."""
import numpy as np
import pytest
import torch

from workbench.train import metrics


def numpy_classification(y, p, k):
    labels = sorted(set(y) | set(p))
    prec, rec, f1 = [], [], []
    for c in labels:
        tp = np.sum((y == c) & (p == c))
        fp = np.sum((y != c) & (p == c))
        fn = np.sum((y == c) & (p != c))
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        prec.append(pr)
        rec.append(rc)
        f1.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    cm = np.zeros((k, k), dtype=int)
    for a, b in zip(y, p):
        cm[a, b] += 1
    balanced = np.mean([np.mean(p[y == c] == c) for c in sorted(set(y))])
    return {"accuracy": np.mean(y == p), "balanced_accuracy": balanced, "precision_macro": np.mean(prec),
            "recall_macro": np.mean(rec), "f1_macro": np.mean(f1), "confusion_matrix": cm.tolist()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_matches_numpy(seed):
    g = torch.Generator().manual_seed(seed)
    k = 5
    y = torch.randint(0, k - 1, (203,), generator=g)        # class 4 never true ...
    logits = torch.randn(203, k, generator=g)
    logits[y == 0, 0] += 2                                   # ... and some skill on class 0
    acc = metrics.Accumulator("classification", k)
    for s in range(0, 203, 17):                              # batch by batch, as in training
        acc.add(logits[s:s + 17], y[s:s + 17], torch.tensor(0.5))
    got = acc.result()
    want = numpy_classification(y.numpy(), logits.argmax(1).numpy(), k)
    assert got["confusion_matrix"] == want["confusion_matrix"]
    for name in metrics.CLASSIFICATION:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name
    assert got["loss"] == pytest.approx(0.5)
    # per class (every class index, absent ones as 0) and balanced accuracy, as scikit-learn has them
    from sklearn.metrics import balanced_accuracy_score, precision_recall_fscore_support
    pred = logits.argmax(1).numpy()
    p, r, f, n = precision_recall_fscore_support(y.numpy(), pred, labels=range(k), zero_division=0)
    for name, want_values in (("precision", p), ("recall", r), ("f1", f), ("support", n)):
        assert got["per_class"][name] == pytest.approx(list(want_values), abs=1e-12), name
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y.numpy(), pred), abs=1e-12)


def test_classification_edge_cases():
    # a class predicted but never true counts with precision 0 and recall 0
    cm = torch.tensor([[2, 1], [0, 0]])
    m = metrics.classification(cm)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["precision_macro"] == pytest.approx(0.5)
    assert m["recall_macro"] == pytest.approx((2 / 3 + 0) / 2)


@pytest.mark.parametrize("columns", [1, 3])
def test_regression_matches_numpy(columns):
    g = torch.Generator().manual_seed(columns)
    y = torch.randn(157, columns, generator=g) * 3 + 1
    pred = y + torch.randn(157, columns, generator=g)
    acc = metrics.Accumulator("regression")
    for s in range(0, 157, 32):
        acc.add(pred[s:s + 32], y[s:s + 32])
    got = acc.result()
    yn, pn = y.double().numpy(), pred.double().numpy()
    r2 = np.mean(1 - ((yn - pn) ** 2).sum(0) / ((yn - yn.mean(0)) ** 2).sum(0))
    assert got["mse"] == pytest.approx(np.mean((yn - pn) ** 2), rel=1e-9)
    assert got["mae"] == pytest.approx(np.mean(np.abs(yn - pn)), rel=1e-9)
    assert got["r2"] == pytest.approx(r2, rel=1e-9)


def test_direction_of_metrics():
    assert metrics.higher_is_better("val_accuracy") and metrics.higher_is_better("r2")
    assert not metrics.higher_is_better("val_loss") and not metrics.higher_is_better("mae")
