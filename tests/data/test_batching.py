"""Index-slice batches and training-only augmentation."""
from __future__ import annotations

import torch

from workbench.data import DataSettings
from workbench.data.batching import augment, batches
from workbench.data.prepared import Split


def split(n=10):
    return Split(torch.arange(n * 2, dtype=torch.float32).reshape(n, 2), torch.arange(n))


def test_batches_cover_the_split_once_in_order():
    s = split()
    got = list(batches(s, 4, shuffle=False, generator=None))
    assert [len(y) for _, y in got] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in got]), torch.arange(10))
    assert got[1][0].data_ptr() == s.x[4:].data_ptr()  # in order: views, no copies


def test_shuffled_batches_are_seeded_and_keep_rows_together():
    s = split()
    a = list(batches(s, 3, True, torch.Generator().manual_seed(1)))
    b = list(batches(s, 3, True, torch.Generator().manual_seed(1)))
    ys = torch.cat([y for _, y in a])
    assert sorted(ys.tolist()) == list(range(10)) and ys.tolist() != list(range(10))
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))
    for x, y in a:
        assert torch.equal(x[:, 0], y.float() * 2)  # features stay with their row


def test_augment_is_identity_when_off():
    x = torch.randn(4, 3)
    assert augment(x, DataSettings()) is x
    tokens = torch.tensor([[0, 5, 6]])
    assert augment(tokens, DataSettings()) is tokens


def test_noise_on_floats():
    x = torch.zeros(2000, 4)
    out = augment(x, DataSettings(augment={"noise_std": 0.5}), torch.Generator().manual_seed(0))
    assert abs(out.std().item() - 0.5) < 0.02 and x.abs().sum() == 0


def test_token_dropout_replaces_real_tokens_by_oov_only():
    x = torch.tensor([[0, 0, 7, 8, 9, 10]] * 500)
    out = augment(x, DataSettings(augment={"token_dropout": 0.3}), torch.Generator().manual_seed(0))
    assert (out[:, :2] == 0).all()  # padding stays padding
    changed = out[:, 2:] != x[:, 2:]
    assert (out[:, 2:][changed] == 1).all() and 0.25 < changed.float().mean() < 0.35
