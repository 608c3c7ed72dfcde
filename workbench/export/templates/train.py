#!/usr/bin/env python3
"""Train the exported model on its data without Workbench: needs only PyTorch, numpy and pandas.

Usage:  python train.py --data FILE [--epochs N] [--batch-size N] [--lr X] [--out weights.pt]
        [--init weights.pt] [--val-fraction 0.15] [--seed 0]

The raw file is turned into tensors with the fitted preprocessing in preprocessing.json
(the same scaling, category maps and vocabulary the model was trained with), the model is
model.py's Model, and the loss and optimizer are the project's.
"""
import argparse
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import Model  # noqa: E402

__PREPROCESS__

SETTINGS = __SETTINGS__


def make_loss():
    return __LOSS__


def make_optimizer(model, lr):
    return __OPTIMIZER__


def load_data(path, pre, val_fraction, seed):
    """Raw file -> (train, val) as (x, y) tensor pairs; val is a seeded random share."""
    df = read_raw(path, pre)
    x, y = transform(df, pre)
    if y is None:
        raise SystemExit(f"{path}: no target column '{pre.get('target')}' to train on")
    keep = y >= 0 if SETTINGS["task"] == "classification" else ~np.isnan(y).reshape(len(y), -1).any(1)
    x, y = torch.from_numpy(x[keep]), torch.from_numpy(y[keep])
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = int(len(y) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def batches(x, y, batch_size, generator=None):
    """Index-slice batches over in-memory tensors (shuffled when a generator is given)."""
    order = torch.randperm(len(y), generator=generator) if generator is not None else torch.arange(len(y))
    for i in range(0, len(y), batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def train_one_epoch(model, loss_fn, optimizer, data, batch_size, generator):
    model.train()
    total, count = 0.0, 0
    for xb, yb in batches(*data, batch_size, generator):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += float(loss) * len(yb)
        count += len(yb)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model, loss_fn, data, batch_size):
    model.eval()
    total, correct, count = 0.0, 0, 0
    for xb, yb in batches(*data, batch_size):
        out = model(xb)
        total += float(loss_fn(out, yb)) * len(yb)
        if SETTINGS["task"] == "classification":
            correct += int((out.argmax(-1) == yb).sum())
        count += len(yb)
    metrics = {"loss": total / max(count, 1)}
    if SETTINGS["task"] == "classification":
        metrics["accuracy"] = correct / max(count, 1)
    return metrics


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train the exported model without Workbench.")
    p.add_argument("--data", default=SETTINGS["data"], help="raw training file (default: %(default)s)")
    p.add_argument("--preprocessing", default=os.path.join(HERE, "preprocessing.json"))
    p.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    p.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    p.add_argument("--lr", type=float, default=SETTINGS["lr"])
    p.add_argument("--seed", type=int, default=SETTINGS["seed"])
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--init", help="start from these weights (e.g. weights.pt) instead of random ones")
    p.add_argument("--out", default=os.path.join(HERE, "trained.pt"), help="where to save the weights")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    pre = load_preprocessing(args.preprocessing)
    train_data, val_data = load_data(args.data, pre, args.val_fraction, args.seed)
    model = Model()
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    loss_fn, optimizer = make_loss(), make_optimizer(model, args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        train_loss = train_one_epoch(model, loss_fn, optimizer, train_data, args.batch_size, generator)
        line = f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f}"
        if len(val_data[1]):
            line += "".join(f"  val {k} {v:.4f}" for k, v in evaluate(model, loss_fn, val_data, args.batch_size).items())
        print(line, flush=True)
    torch.save(model.state_dict(), args.out)
    print(f"saved weights to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
