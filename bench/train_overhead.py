"""What Workbench's training loop costs over a plain hand-written PyTorch loop.

The same MLP, CNN and LSTM (built from the templates, same initial weights), the same
synthetic data, the same batching (workbench.data.batches), the same device. Both loops do
per epoch: a shuffled pass of optimizer steps, then loss + accuracy on the validation split.
Workbench's loop also does everything it does in real use: events (rate-limited), the NaN
guard, metrics.jsonl, best/last checkpoints every epoch.

Time per epoch = time between consecutive epoch ends (the first epoch is warm-up and not
counted); runs alternate Workbench / plain so that load changes on a shared machine hit both.
Reported: median over runs of each, the median of the per-pair ratios, samples/s. Exits 1
when a ratio is above the 1.10 target.

    .venv/bin/python bench/train_overhead.py [--runs 5] [--epochs 4] [--threads 1] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.compile import compile_model, training_plan  # noqa: E402
from workbench.core.templates import DataShape, build  # noqa: E402
from workbench.data import batches  # noqa: E402
from workbench.train.trainer import Trainer  # noqa: E402


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


class _Pre:
    def to_dict(self):
        return {}


@dataclass
class Data:
    """The parts of PreparedData a Trainer reads, for synthetic tensors."""
    task: str
    classes: list
    train: Split
    val: Split
    test: Split | None = None
    preprocessor: _Pre = _Pre()
    warnings: tuple = ()

    def to(self, device):
        return Data(self.task, self.classes, *(Split(s.x.to(device), s.y.to(device)) for s in (self.train, self.val)))

    def bind(self, graph):
        pass


def make_case(name: str, g: torch.Generator):
    classes = 10
    if name == "mlp":
        n, shape, dtype, card = 32768, (64,), "float32", None
        x = torch.randn(n + 2048, 64, generator=g)
        template, batch = "mlp-classifier", 64
    elif name == "cnn":
        n, shape, dtype, card = 8192, (1, 8, 8), "float32", None
        x = torch.randn(n + 1024, 1, 8, 8, generator=g)
        template, batch = "cnn-classifier", 64
    else:
        n, shape, dtype, card = 2048, (32,), "int64", 2000
        x = torch.randint(2, card, (n + 512, 32), generator=g)
        template, batch = "lstm-classifier", 64
    y = torch.randint(0, classes, (x.shape[0],), generator=g)
    data = Data("classification", [str(i) for i in range(classes)], Split(x[:n], y[:n]), Split(x[n:], y[n:]))
    project = build(template, DataShape(shape, dtype, card, "classification", classes, (), n), name)
    project.training.update(batch_size=batch, early_stopping={"enabled": False, "metric": "val_loss",
                                                              "patience": 5, "min_delta": 0.0,
                                                              "restore_best": False})
    return project, data


def workbench_epochs(project, data, epochs: int, device: str) -> list[float]:
    stamps = []
    with tempfile.TemporaryDirectory() as tmp:
        Trainer(project, data, epochs=epochs, device=device, run_dir=Path(tmp) / "run",
                callbacks=[lambda e: stamps.append(time.perf_counter()) if e.kind == "epoch" else None]).run()
    return [b - a for a, b in zip(stamps, stamps[1:])]


def plain_epochs(project, data, epochs: int, device: str) -> list[float]:
    """The loop one writes by hand: the same model, optimizer, batching, validation."""
    dev = torch.device(device)
    model = compile_model(project.graph, seed=int(project.training["seed"])).module.to(dev)
    plan = training_plan(project.graph)
    optimizer = plan.make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    bs = int(project.training["batch_size"])
    train = Split(data.train.x.to(dev), data.train.y.to(dev))
    val = Split(data.val.x.to(dev), data.val.y.to(dev))
    stamps = []
    for _ in range(epochs):
        model.train()
        for x, y in batches(train, bs, shuffle=True, generator=g):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        total, correct = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.long)
        with torch.no_grad():
            for x, y in batches(val, max(bs, 512), shuffle=False, generator=None):
                out = model(x)
                total += loss_fn(out, y) * y.shape[0]
                correct += (out.argmax(1) == y).sum()
        _ = float(total) / val.y.shape[0], int(correct) / val.y.shape[0]
        stamps.append(time.perf_counter())
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4, help="per run; the first is warm-up")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0 = torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", default="mlp,cnn,lstm")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, device {args.device}, "
          f"load average {load:.2f} at start")
    print("| model | train rows | batch | Workbench s/epoch | plain s/epoch | ratio (median of pairs) "
          "| Workbench samples/s | plain samples/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for name in args.cases.split(","):
        project, data = make_case(name, torch.Generator().manual_seed(0))
        wb_all, plain_all, ratios = [], [], []
        for _ in range(args.runs):
            wb = statistics.median(workbench_epochs(project, data, args.epochs, args.device))
            pl = statistics.median(plain_epochs(project, data, args.epochs, args.device))
            wb_all.append(wb)
            plain_all.append(pl)
            ratios.append(wb / pl)
        wb, pl, ratio = statistics.median(wb_all), statistics.median(plain_all), statistics.median(ratios)
        worst = max(worst, ratio)
        rows = data.train.y.shape[0]
        print(f"| {name} | {rows} | {project.training['batch_size']} | {wb:.3f} | {pl:.3f} | {ratio:.3f} "
              f"| {rows / wb:,.0f} | {rows / pl:,.0f} |", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# load average {load:.2f} at the end; target ratio <= 1.10: "
          f"{'met' if worst <= 1.10 else 'NOT met'} (worst {worst:.3f})")
    return 0 if worst <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
