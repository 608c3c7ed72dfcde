"""Which rows train, which validate, which test: seeded, and stratified for classification.

Stratifying keeps every class in every split in its share of the data, which matters for
small sets like iris (50 rows a class) where a plain shuffle can starve a split of a class.
Indices come back sorted inside each split: gathering rows in file order is several times
faster than in random order on large arrays, and the trainer shuffles each epoch anyway.
"""
from __future__ import annotations

import numpy as np


def split_indices(n: int, val: float, test: float, seed: int = 0,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) positions into range(n). labels: class ids to stratify by, or None."""
    rng = np.random.default_rng(seed)
    if labels is None:
        n_test, n_val = _count(n, test), _count(n, val)
        if n_test + n_val >= n:  # always keep a training row
            n_val = max(0, n - 1 - n_test)
        # Draw only the held-out rows; training is the rest (3x faster than a permutation
        # of a million rows, and the training indices come out sorted for free).
        held = rng.choice(n, n_test + n_val, replace=False)
        keep = np.ones(n, dtype=bool)
        keep[held] = False
        return (np.flatnonzero(keep).astype(np.int64), np.sort(held[n_test:]).astype(np.int64),
                np.sort(held[:n_test]).astype(np.int64))
    train, val_rows, test_rows = [], [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = len(members)
        n_test, n_val = round(k * test), round(k * val)
        while n_test + n_val >= k and (n_test or n_val):  # every class keeps a training row
            if n_val >= n_test and n_val:
                n_val -= 1
            else:
                n_test -= 1
        test_rows.append(members[:n_test])
        val_rows.append(members[n_test: n_test + n_val])
        train.append(members[n_test + n_val:])
    parts = [np.sort(np.concatenate(p)).astype(np.int64) for p in (train, val_rows, test_rows)]
    for i, ratio in ((1, val), (2, test)):  # a split asked for must not come out empty
        if ratio > 0 and len(parts[i]) == 0 and len(parts[0]) > 1:
            # from a class that keeps a training row without it, when there is one
            classes = np.unique(labels, return_inverse=True)[1]
            left = np.bincount(classes[parts[0]], minlength=classes.max() + 1)
            spare = parts[0][left[classes[parts[0]]] > 1]
            pool = spare if len(spare) else parts[0]
            moved = pool[rng.integers(len(pool))]
            parts[0] = parts[0][parts[0] != moved]
            parts[i] = np.array([moved], dtype=np.int64)
    return tuple(parts)  # type: ignore[return-value]


def fold_indices(rows: np.ndarray, k: int, seed: int = 0,
                 labels: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, val) pairs over `rows`; each row is validated exactly once.

    Stratified: each class's rows are dealt round-robin to the folds, continuing where the
    previous class stopped, so fold sizes differ by at most one.
    """
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, dtype=np.int64)
    fold_of = np.empty(len(rows), dtype=np.int64)
    if labels is None:
        order = rng.permutation(len(rows))
        fold_of[order] = np.arange(len(rows)) % k
    else:
        start = 0
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            fold_of[members] = (start + np.arange(len(members))) % k
            start += len(members)
    return [(np.sort(rows[fold_of != i]), np.sort(rows[fold_of == i])) for i in range(k)]


def _count(n: int, ratio: float) -> int:
    if ratio <= 0:
        return 0
    return max(1, int(round(n * ratio))) if n > 2 else 0
