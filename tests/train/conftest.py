"""Fixtures for the training tests: small synthetic data shaped like workbench.data's
PreparedData (so the loop's own behaviour is tested without reading files) and the real
bundled data sets through `workbench new` for the quality figures."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import torch

from workbench.core.templates import DataShape, build


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


class Preprocessor:
    def to_dict(self) -> dict:
        return {"kind": "synthetic"}


@dataclass
class FakeData:
    """The parts of PreparedData the trainer reads."""
    task: str
    classes: list | None
    train: Split
    val: Split | None
    test: Split | None
    preprocessor: Preprocessor = field(default_factory=Preprocessor)

    def to(self, device):
        return self

    def bind(self, graph):
        pass


def blobs(n: int = 300, seed: int = 0, classes: int = 3, features: int = 4) -> FakeData:
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=g) * 3
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + torch.randn(n, features, generator=g)
    a, b = int(n * 0.7), int(n * 0.85)
    return FakeData("classification", [f"c{i}" for i in range(classes)],
                    Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]))


def linear(n: int = 300, seed: int = 0, features: int = 3) -> FakeData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = (x @ torch.tensor([1.5, -2.0, 0.5])[:features]).unsqueeze(1) + 0.1 * torch.randn(n, 1, generator=g)
    a, b = int(n * 0.7), int(n * 0.85)
    return FakeData("regression", None, Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]))


def project_for(data: FakeData, template: str = "mlp-classifier", **training):
    classify = data.task == "classification"
    shape = DataShape(tuple(data.train.x.shape[1:]), "float32", None, data.task,
                      len(data.classes) if classify else 0,
                      () if classify else tuple(data.train.y.shape[1:]), int(data.train.y.shape[0]))
    project = build(template, shape, "synthetic")
    project.training.update(training)
    return project


@pytest.fixture
def blob_data():
    return blobs()


@pytest.fixture
def blob_project(blob_data):
    return project_for(blob_data, epochs=5)



@pytest.fixture(autouse=True)
def one_thread():
    """Small models train fastest on one thread, and a shared CI machine stays predictable
    (two threads on two busy cores were measured 10-50x slower here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
