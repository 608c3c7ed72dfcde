#!/usr/bin/env python3
"""Train the exported model on its data without Workbench: needs only PyTorch, numpy and pandas.

Usage:  python train.py --data FILE [--epochs N] [--batch-size N] [--lr X] [--out weights.pt]
        [--init weights.pt] [--val-fraction 0.15] [--seed 0] [--device auto|cpu|cuda]

On several GPUs or machines, start it with PyTorch's launcher (one process per GPU):

        torchrun --standalone --nproc_per_node=4 train.py --data FILE ...

Each process then trains DistributedDataParallel on its shard of the rows (NCCL on GPUs, Gloo
on CPUs), --batch-size is per process (the effective batch is batch size x processes), the
losses and metrics printed are over all rows, and only rank 0 prints and saves the weights.

The raw file is turned into tensors with the fitted preprocessing in preprocessing.json
(the same scaling, category maps and vocabulary the model was trained with), the model is
model.py's Model, and the loss and optimizer are the project's.
"""
import argparse
import datetime
import hashlib
import os
import signal
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

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
    """Raw file -> (train, val) as (xs, y) pairs, xs one tensor per model input (image paths
    relative to the file's folder); val is a seeded random share."""
    df = read_raw(path, pre)
    xs, y = transform_inputs(df, pre, os.path.dirname(os.path.abspath(path)))
    if y is None:
        raise SystemExit(f"{path}: no target column '{pre.get('target')}' to train on")
    keep = y >= 0 if SETTINGS["task"] == "classification" else ~np.isnan(y).reshape(len(y), -1).any(1)
    xs, y = tuple(torch.from_numpy(x[keep]) for x in xs), torch.from_numpy(y[keep])
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = int(len(y) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (tuple(x[train] for x in xs), y[train]), (tuple(x[val] for x in xs), y[val])


# ---- several processes (torchrun): process group, shards, sums over all ranks ----------------

def pick_device(name, local_rank):
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "cuda":
        raise SystemExit("--device cuda: this PyTorch sees no CUDA GPU")
    return torch.device("cpu")


def setup_distributed(device_name):
    """(rank, world size, device). Started by torchrun (RANK, WORLD_SIZE in the environment):
    joins the process group, NCCL on GPUs and Gloo on CPUs, with a collective timeout of
    TRAIN_DIST_TIMEOUT seconds (default 120) so a rank that dies or hangs makes the others stop
    with an error instead of waiting forever. Otherwise a single process: (0, 1, device)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1, pick_device(device_name, 0)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = pick_device(device_name, int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=float(os.environ.get("TRAIN_DIST_TIMEOUT", "120")))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)

    def on_term(signum, frame):  # torchrun stops the others when one fails: unwind cleanly
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(f"rank {rank}: stopped by SIGTERM (another rank failed or the job was cancelled)")
    signal.signal(signal.SIGTERM, on_term)
    return rank, world, device


def all_sum(values, device):
    """Element-wise sums over all ranks (the values themselves in a single process)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def weights_digest(model):
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ---- training --------------------------------------------------------------------------------

def batches(xs, y, batch_size, generator=None, rank=0, world=1):
    """Index-slice batches over in-memory tensors (shuffled when a generator is given). With
    several ranks, this rank's shard of one order that every rank draws alike (same generator
    state), padded by repeating its start so every rank runs the same number of steps."""
    n = len(y)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if world > 1:
        total = -(-n // world) * world
        order = order.repeat(-(-total // n))[:total][rank::world]
    order = order.to(y.device)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield tuple(x[idx] for x in xs), y[idx]


def train_one_epoch(model, loss_fn, optimizer, data, batch_size, generator, rank=0, world=1):
    """One pass over this rank's shard; the mean loss over all ranks' rows."""
    model.train()
    total, count = torch.zeros((), dtype=torch.float64, device=data[1].device), 0
    for xb, yb in batches(*data, batch_size, generator, rank, world):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(*xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(yb)
        count += len(yb)
    total, count = all_sum([float(total), count], data[1].device)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model, loss_fn, data, batch_size, rank=0, world=1):
    """Loss (and accuracy) over the whole split: each rank takes a contiguous piece, the sums
    are added over the ranks, so the figures equal a single process's."""
    model.eval()
    xs, y = data
    a, b = len(y) * rank // world, len(y) * (rank + 1) // world
    total, correct, count = 0.0, 0, 0
    for xb, yb in batches(tuple(x[a:b] for x in xs), y[a:b], batch_size):
        out = model(*xb)
        total += float(loss_fn(out, yb)) * len(yb)
        if SETTINGS["task"] == "classification":
            correct += int((out.argmax(-1) == yb).sum())
        count += len(yb)
    total, correct, count = all_sum([total, correct, count], y.device)
    metrics = {"loss": total / max(count, 1)}
    if SETTINGS["task"] == "classification":
        metrics["accuracy"] = correct / max(count, 1)
    return metrics


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train the exported model without Workbench.")
    p.add_argument("--data", default=os.path.join(HERE, SETTINGS["data"]) if SETTINGS["data"] else None,
                   help="raw training file (default: %(default)s)")
    p.add_argument("--preprocessing", default=os.path.join(HERE, "preprocessing.json"))
    p.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    p.add_argument("--batch-size", type=int, default=SETTINGS["batch_size"])
    p.add_argument("--lr", type=float, default=SETTINGS["lr"])
    p.add_argument("--seed", type=int, default=SETTINGS["seed"])
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--init", help="start from these weights (e.g. weights.pt) instead of random ones")
    p.add_argument("--out", default=os.path.join(HERE, "trained.pt"), help="where to save the weights")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="auto: a GPU when there is one (under torchrun, GPU number LOCAL_RANK)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.data:
        raise SystemExit("no data file: pass --data FILE")
    rank, world, device = setup_distributed(args.device)
    try:
        code = train(args, rank, world, device)
        if world > 1:  # meet before tearing down: a rank leaving while a DDP peer is still
            dist.barrier()  # busy (rank 0 saving) can abort that peer
        return code
    except RuntimeError as exc:
        if world == 1:
            raise
        text = " ".join(str(exc).split()).split(". This is typically caused")[0]
        print(f"error: rank {rank}/{world}: distributed training failed (another rank exited, "
              f"crashed or hangs): {text[:300]}", file=sys.stderr, flush=True)
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def to(split, device):
    xs, y = split
    return tuple(x.to(device) for x in xs), y.to(device)


def train(args, rank, world, device):
    say = print if rank == 0 else (lambda *a, **k: None)
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    pre = load_preprocessing(args.preprocessing)
    train_data, val_data = (to(split, device) for split in
                            load_data(args.data, pre, args.val_fraction, args.seed))
    model = Model()
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    model.to(device)
    net = model
    if world > 1:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        say(f"training on {world} processes ({dist.get_backend()}, {device.type}): batch "
            f"{args.batch_size} per process, {args.batch_size * world} in all", flush=True)
    torch.manual_seed(args.seed + rank)  # dropout: each rank its own
    loss_fn, optimizer = make_loss(), make_optimizer(model, args.lr)
    generator = torch.Generator().manual_seed(args.seed)  # the same shuffling on every rank
    for epoch in range(1, args.epochs + 1):
        train_loss = train_one_epoch(net, loss_fn, optimizer, train_data, args.batch_size, generator,
                                     rank, world)
        line = f"epoch {epoch}/{args.epochs}  train loss {train_loss:.4f}"
        if len(val_data[1]):
            line += "".join(f"  val {k} {v:.4f}" for k, v in
                            evaluate(model, loss_fn, val_data, args.batch_size, rank, world).items())
        say(line, flush=True)
    if world > 1:  # every rank must end with the same weights; say so, or say which differ
        digests = [None] * world
        dist.all_gather_object(digests, weights_digest(model))
        same = len(set(digests)) == 1
        say(f"weights identical on all {world} ranks: sha256 {digests[0]}" if same else
            f"warning: the ranks' weights differ: {', '.join(d[:12] for d in digests)}", flush=True)
    if rank == 0:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, args.out)
        say(f"saved weights to {args.out}")
    return 0


if __name__ == "__main__":
    code = main()
    if "TORCHELASTIC_RUN_ID" in os.environ:  # under torchrun: skip C++ teardown, where gloo's
        sys.stdout.flush()                    # threads can abort a finished rank ("terminate
        sys.stderr.flush()                    # called without an active exception")
        os._exit(code)
    sys.exit(code)
