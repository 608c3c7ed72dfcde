"""Streamed image inputs: the same rows and order as the cached path, and a bad file mid-epoch
is recorded, never raised."""
from __future__ import annotations

import pickle
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from PIL import Image

from workbench.data import images
from workbench.data.batching import batches
from workbench.data.streaming import StreamedImages, stream_batches

SPEC = {"column": "image", "size": [4, 4], "mode": "resize", "channels": "RGB",
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    paths = []
    for i in range(13):   # every picture its own colour: a row can be told from its pixels
        p = root / f"{i}.png"
        Image.new("RGB", (6, 5), (i * 19, 255 - i * 19, (i * 53) % 256)).save(p)
        paths.append(str(p))
    return paths


def splits(paths):
    df = pd.DataFrame({"image": paths})
    cached, _ = images.decode_rows(df, range(len(paths)), "image", "/", SPEC, "refuse")
    y = torch.arange(len(paths)) * 10
    extra = torch.arange(len(paths), dtype=torch.float32)[:, None] * 2
    mem = SimpleNamespace(xs=(cached, extra), y=y, x=cached)
    streamed = SimpleNamespace(xs=(StreamedImages(paths, SPEC), extra), y=y)
    return mem, streamed


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_matches_cached_rows_and_seeded_order(files, workers):
    mem, streamed = splits(files)
    assert streamed.xs[0].shape == (13, 3, 4, 4) and len(streamed.xs[0]) == 13
    for epoch in range(2):       # the same loader serves the next epoch (persistent workers)
        g1, g2 = torch.Generator().manual_seed(epoch), torch.Generator().manual_seed(epoch)
        want = list(batches(SimpleNamespace(x=mem.x, y=mem.y), 5, True, g1))
        got = list(stream_batches(streamed, 5, True, g2, workers=workers, pin=False))
        assert [len(yb) for _, yb in got] == [5, 5, 3]
        for (xw, yw), ((xi, xe), yg) in zip(want, got):
            assert torch.equal(yw, yg)
            assert torch.allclose(xw, xi)
            assert torch.equal(xe[:, 0], yg.float() / 5)   # the in-memory input, same rows
    plain = list(stream_batches(streamed, 4, False, None, workers=workers))
    assert torch.equal(torch.cat([yb for _, yb in plain]), mem.y)
    one = SimpleNamespace(xs=(streamed.xs[0],), y=mem.y)
    x, _ = next(iter(stream_batches(one, 13, False, None, workers=workers)))
    assert isinstance(x, torch.Tensor) and torch.allclose(x, mem.x)


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_file_mid_stream_is_recorded_not_raised(files, tmp_path, workers):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    paths = files[:3] + [str(bad)] + files[3:5]
    streamed = StreamedImages(paths, SPEC)
    split = SimpleNamespace(xs=(streamed,), y=torch.arange(6))
    out = list(stream_batches(split, 4, False, None, workers=workers))
    x = torch.cat([xb for xb, _ in out])
    assert streamed.failed == [str(bad)]
    assert bool((x[3] == 0).all()) and not bool((x[2] == 0).all())
    list(stream_batches(split, 4, False, None, workers=workers))
    assert streamed.failed == [str(bad)]     # named once, however many epochs


def test_streamed_images_pickle_without_their_loaders(files):
    _, streamed = splits(files)
    list(stream_batches(streamed, 5, False, None, workers=0))
    copy = pickle.loads(pickle.dumps(streamed.xs[0]))
    assert copy.paths == files and copy.shape == (13, 3, 4, 4) and copy._loaders == {}
