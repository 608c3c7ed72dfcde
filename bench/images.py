"""One epoch of a small CNN on ~2,000 PNGs: Workbench's stream_batches vs a plain
Dataset + DataLoader loop on the same files (same batch size, same workers). Run by hand:

    PYTHONPATH=. .venv/bin/python bench/images.py [--n 2000] [--workers 2] [--epochs 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from workbench.data import image_decode  # noqa: E402
from workbench.data.shapes import CLASSES, make_shapes  # noqa: E402
from workbench.data.streaming import StreamedImages, stream_batches  # noqa: E402

SPEC = {"size": [32, 32], "mode": "resize", "channels": "RGB",
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


class Plain(Dataset):
    """What a user writes by hand: one file per __getitem__, default collate."""

    def __init__(self, paths, labels):
        self.paths, self.labels = paths, labels

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return torch.from_numpy(image_decode.load(self.paths[i], SPEC)), self.labels[i]


def model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 4))


def epoch(net, opt, batches):
    n = 0
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        n += len(y)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(tmp, per_class=a.n // 4, size=32, seed=1)
        paths = sorted(str(p) for p in Path(tmp).rglob("*.png"))
        labels = torch.tensor([CLASSES.index(Path(p).parent.name) for p in paths])
        split = SimpleNamespace(xs=(StreamedImages(paths, SPEC),), y=labels)
        plain = DataLoader(Plain(paths, labels.tolist()), batch_size=a.batch, shuffle=True,
                           num_workers=a.workers, persistent_workers=a.workers > 0)
        times = {"workbench": [], "plain": []}
        for e in range(a.epochs):     # alternate, so that neither gets the warm cache alone
            for name in times:
                torch.manual_seed(e)
                net = model()
                opt = torch.optim.SGD(net.parameters(), lr=0.05)
                g = torch.Generator().manual_seed(e)
                t = time.perf_counter()
                src = stream_batches(split, a.batch, True, g, a.workers) if name == "workbench" \
                    else plain
                assert epoch(net, opt, src) == len(paths)
                times[name].append(time.perf_counter() - t)
        # the first epoch starts the workers; report the best of the rest (and the first)
        for name, ts in times.items():
            print(f"{name:10s} first {ts[0]:.2f}s  best later {min(ts[1:] or ts):.2f}s")
        w, p = min(times["workbench"][1:] or times["workbench"]), \
            min(times["plain"][1:] or times["plain"])
        print(f"{len(paths)} images, batch {a.batch}, workers {a.workers}: "
              f"workbench/plain = {w / p:.2f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
