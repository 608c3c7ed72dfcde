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
            generator: torch.Generator | None = None, workers: int = 0,
            pin: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) batches covering the split once; the last batch may be smaller. x is a tensor
    for a one-input split, a tuple (one per input) for several.

    The permutation is drawn where the generator lives (usually the CPU) and moved to the
    data's device once per epoch. A split with streamed images goes through a DataLoader
    (`workers` processes decode, `pin` pins the batches for a CUDA copy).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    xs, y = getattr(split, "xs", None) or (split.x,), split.y
    if not all(isinstance(x, torch.Tensor) for x in xs):  # images decoded batch by batch
        from workbench.data.streaming import stream_batches

        yield from stream_batches(split, batch_size, shuffle, generator, workers=workers,
                                  pin=pin)
        return
    n = int(y.shape[0])
    one = len(xs) == 1
    if not shuffle:
        for start in range(0, n, batch_size):
            end = start + batch_size
            yield (xs[0][start:end] if one else tuple(x[start:end] for x in xs)), y[start:end]
        return
    order = torch.randperm(n, generator=generator, device=_device(generator, "cpu")).to(y.device)
    for start in range(0, n, batch_size):
        idx = order[start: start + batch_size]
        yield (xs[0].index_select(0, idx) if one else
               tuple(x.index_select(0, idx) for x in xs)), y.index_select(0, idx)


def to_device(x, device, non_blocking: bool = False):
    """A batch's inputs (a tensor, or a tuple of them) on the device."""
    if isinstance(x, tuple):
        return tuple(t.to(device, non_blocking=non_blocking) for t in x)
    return x.to(device, non_blocking=non_blocking)


def call(module, x):
    """The model on a batch's inputs: one tensor, or one per Input."""
    return module(*x) if isinstance(x, tuple) else module(x)


def augment(x, settings: DataSettings, generator: torch.Generator | None = None, kinds=None):
    """Training batches only: image augmentation on image inputs (kinds[i] == "image"),
    Gaussian noise on float features (in standardized units), token dropout (a real token
    replaced by OOV) on int64 token ids. x is a tensor or a tuple (several inputs); returned
    as it is when augmentation is off."""
    if isinstance(x, tuple):
        kinds = kinds or [None] * len(x)
        return tuple(augment(t, settings, generator, [k]) for t, k in zip(x, kinds))
    if kinds and kinds[0] == "image":
        from workbench.data.image_augment import augment_images

        return augment_images(x, settings.augment, generator)
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
