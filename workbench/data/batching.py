"""Mini-batches by index slices over tensors already in memory, and training-time augmentation.

No DataLoader, no per-row Python: a batch is one `index_select` (shuffled) or one slice
(in order), which on small tabular models is the difference between the GPU waiting on Python
and not.
"""
from __future__ import annotations

from typing import Iterator

import torch

from workbench.data.settings import DataSettings
from workbench.data.text import OOV, PAD


def batches(split, batch_size: int, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) batches covering the split once; the last batch may be smaller.

    The permutation is drawn where the generator lives (usually the CPU) and moved to the
    data's device once per epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    x, y = split.x, split.y
    n = int(x.shape[0])
    if not shuffle:
        for start in range(0, n, batch_size):
            yield x[start: start + batch_size], y[start: start + batch_size]
        return
    order = torch.randperm(n, generator=generator, device=_device(generator, "cpu")).to(x.device)
    for start in range(0, n, batch_size):
        idx = order[start: start + batch_size]
        yield x.index_select(0, idx), y.index_select(0, idx)


def augment(x: torch.Tensor, settings: DataSettings, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """Training batches only: Gaussian noise on float features (in standardized units), or
    token dropout (a real token replaced by OOV) on int64 token ids. Returns x itself when
    augmentation is off."""
    if x.dtype.is_floating_point:
        std = float(settings.augment.get("noise_std", 0.0))
        if std <= 0:
            return x
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                            device=_device(generator, x.device))
        return x + noise.to(x.device) * std
    p = float(settings.augment.get("token_dropout", 0.0))
    if p <= 0:
        return x
    draw = torch.rand(x.shape, generator=generator, device=_device(generator, x.device))
    draw = draw.to(x.device)
    return x.masked_fill((draw < p) & (x != PAD), OOV)


def _device(generator: torch.Generator | None, default):
    """Random numbers must be drawn on the generator's own device."""
    return generator.device if generator is not None else default
