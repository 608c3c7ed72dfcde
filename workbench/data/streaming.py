"""Image inputs too big to cache: decoded per batch by DataLoader worker processes.

Each worker builds a whole batch (the in-memory inputs index-selected, the images decoded into
one uint8 array and normalised once), so the per-row Python of a plain `Dataset` is paid only
in Pillow. The order is the one `batching.batches` draws for the same generator, so a run
gives the same batches streamed or cached. An image that fails mid-epoch becomes zeros and
is named in `StreamedImages.failed`: a training run never dies on one bad file.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from workbench.data import image_decode


class StreamedImages:
    """An (n, C, H, W) image input kept as file paths; picklable (paths and spec only)."""

    def __init__(self, paths: list[str], spec: dict):
        self.paths = [str(p) for p in paths]
        self.spec = dict(spec)
        self.failed: list[str] = []        # paths that could not be decoded (main process)
        self._loaders: dict = {}

    @property
    def shape(self) -> tuple[int, int, int, int]:
        c = image_decode.CHANNELS[self.spec["channels"]]
        h, w = self.spec["size"]
        return len(self.paths), c, int(h), int(w)

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_loaders"] = {}             # loaders (and their workers) stay in this process
        return state

    def decode(self, idx) -> tuple[torch.Tensor, list[str]]:
        """float32 (len(idx), C, H, W) and the paths that failed (zeros in their place)."""
        _, c, h, w = self.shape
        out = np.zeros((len(idx), c, h, w), dtype=np.uint8)
        bad = []
        for j, i in enumerate(idx):
            try:
                out[j] = image_decode.pixels(self.paths[int(i)], self.spec)
            except Exception:  # noqa: BLE001 — one bad file must not end the epoch
                bad.append(j)
        x = torch.from_numpy(image_decode.normalise(out, self.spec))
        x[bad] = 0                       # a failed image is zeros in the model's units
        return x, [self.paths[int(idx[j])] for j in bad]

    def _note(self, failed: list[str]) -> None:
        for path in failed:
            if path not in self.failed:
                self.failed.append(path)


class _Batches(Dataset):
    """dataset[list of row indices] -> one whole batch."""

    def __init__(self, xs, y):
        # a copy of each StreamedImages: the loader it owns must not hold it (no cycle, so the
        # workers stop as soon as the input is dropped, not at some later garbage collection)
        self.xs = tuple(StreamedImages(x.paths, x.spec) if isinstance(x, StreamedImages)
                        else x.cpu() for x in xs)
        self.y = y.cpu()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.int64)
        parts, failed = [], []
        for x in self.xs:
            if isinstance(x, StreamedImages):
                part, bad = x.decode(idx.tolist())
                failed.extend(bad)
            else:
                part = x.index_select(0, idx)
            parts.append(part)
        return tuple(parts), self.y.index_select(0, idx), failed


class _Order(Sampler):
    """The batches of the epoch's order; the order is set in the main process each epoch."""

    def __init__(self, n: int, batch_size: int):
        self.n, self.batch_size = n, batch_size
        self.order = torch.arange(n)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        for start in range(0, self.n, self.batch_size):
            yield self.order[start: start + self.batch_size].tolist()


def _whole(batch):
    return batch


def stream_batches(split, batch_size: int, shuffle: bool = False,
                   generator: torch.Generator | None = None, workers: int = 2,
                   pin: bool = False) -> Iterator[tuple]:
    """(x, y) batches of a split holding StreamedImages, on the CPU (pinned when `pin`);
    x is a Tensor for one input, a tuple for several. The loader and its workers are kept
    for the next epoch (persistent workers)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    xs, y = tuple(split.xs), split.y
    n = len(y)
    streamed = [x for x in xs if isinstance(x, StreamedImages)]
    owner = streamed[0] if streamed else StreamedImages([], {"channels": "L", "size": [1, 1]})
    pin = bool(pin) and torch.cuda.is_available()
    key = (tuple(id(x) for x in xs), id(y), batch_size, int(workers), pin)
    entry = owner._loaders.get(key)
    if entry is None:
        sampler = _Order(n, batch_size)
        loader = DataLoader(_Batches(xs, y), sampler=sampler, batch_size=None,
                            collate_fn=_whole, num_workers=int(workers), pin_memory=pin,
                            persistent_workers=int(workers) > 0,
                            # its own seed source: an iterator drawn from the global generator
                            # would shift dropout's random numbers against the cached path
                            generator=torch.Generator().manual_seed(0))
        # the inputs held, so that their ids stay theirs while the key lives
        entry = owner._loaders[key] = ((tuple(x for x in xs if x is not owner), y),
                                       sampler, loader)
    _, sampler, loader = entry
    if shuffle:
        device = generator.device if generator is not None else "cpu"
        sampler.order = torch.randperm(n, generator=generator, device=device).cpu()
    else:
        sampler.order = torch.arange(n)
    for parts, yb, failed in loader:
        if failed:
            for x in streamed:
                x._note(failed if len(streamed) == 1 else [p for p in failed if p in x.paths])
        yield (parts[0] if len(parts) == 1 else parts), yb


def close(split) -> None:
    """Stop the split's loader workers (they otherwise live until the StreamedImages goes)."""
    for x in getattr(split, "xs", ()):
        if isinstance(x, StreamedImages):
            x._loaders.clear()
