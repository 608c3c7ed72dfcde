"""One process or many: what the training loop asks of its surroundings, behind one object.

The trainer's loop is written for one process. What differs under torchrun - the device a rank
owns, its shard of the rows, the DDP wrapper, evaluation cut in pieces and summed, a stop all
ranks agree on, rank 0 alone writing, the final weights compared - is a method of a session:
`Local` (one process: each method the plain answer) or `Distributed` (around the
`distributed.Context` torchrun gave). `session_for(ctx)` picks one.
"""
from __future__ import annotations

import threading

import torch

from workbench.train import device as devices


class Local:
    """One process: the device the settings name, every row, nothing to agree on."""
    distributed = False   # other processes share the run (rank 0 writes, the others read it)
    is_main = True        # this process writes the run folder
    world_size = 1
    seed_offset = 0       # added to the seed of dropout/augmentation: each rank its own

    def device(self, name: str) -> torch.device:
        return devices.resolve(name)

    def shard_rows(self, rows: int) -> int:
        """Training rows this process sees per epoch."""
        return rows

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module the training steps call."""
        return module

    def describe(self, device: torch.device, batch_size: int) -> tuple[str, str]:
        """(where, batch) for the start message."""
        return device.type, f"{batch_size}"

    def epoch_batches(self, split, batch_size: int, generator: torch.Generator,
                      stop: threading.Event, workers: int = 0, pin: bool = False):
        from workbench.data import batches
        return batches(split, batch_size, shuffle=True, generator=generator, workers=workers,
                       pin=pin)

    def request_stop(self, stop: threading.Event, go: threading.Event) -> None:
        """A stop asked from another thread: here it takes effect at the next batch."""
        stop.set()
        go.set()

    def agree_stop(self, stop: threading.Event) -> bool:
        """At an epoch end: whether to stop now."""
        return stop.is_set()

    def eval_piece(self, split):
        """The part of an evaluation split this process evaluates."""
        return split

    def reduce(self, acc, split) -> None:
        """Combine the metrics accumulators of all processes, in place."""

    def mean(self, mean: float, count: int) -> float:
        """The mean over all processes of per-process means of `count` values."""
        return mean

    def share_weights(self, module: torch.nn.Module) -> None:
        """Give every process the weights the main one holds."""

    def summary(self, module: torch.nn.Module, batch_size: int) -> tuple[dict | None, str]:
        """(the summary's "distributed" entry or None, a warning or "")."""
        return None, ""

    def explain(self, exc: BaseException) -> str | None:
        """A one-line message for a failure that is the session's, not the model's."""
        return None

    def abandoned(self, exc: BaseException) -> str | None:
        """The message of a run killed from outside (SIGTERM, a peer gone), or None when
        such a signal simply ends the process."""
        return None

    def release(self) -> None:
        """The run is over: let go of what must go before the process group does."""


class Distributed(Local):
    """One rank of a torchrun job (see distributed.py)."""
    distributed = True

    def __init__(self, ctx):
        self.ctx = ctx
        self.is_main, self.world_size = ctx.is_main, ctx.world_size
        self.seed_offset = ctx.rank * 100_003
        self.stop_wanted = threading.Event()   # a stop asked here, not yet agreed by all ranks
        self.fault = None                      # WORKBENCH_DIST_FAULT (tests, debugging)

    def device(self, name: str) -> torch.device:
        return self.ctx.device

    def shard_rows(self, rows: int) -> int:
        return self.ctx.shard_rows(rows)

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel
        from workbench.train.distributed import Fault
        self.fault = Fault.from_env(self.ctx.rank)
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    def describe(self, device: torch.device, batch_size: int) -> tuple[str, str]:
        return (f"{device.type} x {self.world_size} processes ({self.ctx.backend})",
                f"{batch_size} per process ({batch_size * self.world_size} in all)")

    def epoch_batches(self, split, batch_size, generator, stop, workers: int = 0, pin: bool = False):
        return self.ctx.train_batches(split, batch_size, generator, self.stop_wanted, stop, self.fault)

    def request_stop(self, stop, go) -> None:
        self.stop_wanted.set()   # every rank must stop at the same batch: agreed in the loop

    def agree_stop(self, stop) -> bool:
        if not stop.is_set() and self.ctx.any(self.stop_wanted.is_set()):
            stop.set()
        return stop.is_set()

    def eval_piece(self, split):
        return self.ctx.eval_piece(split)

    def reduce(self, acc, split) -> None:
        self.ctx.reduce_accumulator(acc, split)

    def mean(self, mean: float, count: int) -> float:
        return self.ctx.mean(mean, count)

    def share_weights(self, module) -> None:
        self.ctx.broadcast_weights(module)

    def summary(self, module, batch_size) -> tuple[dict | None, str]:
        same = len(set(self.ctx.weight_digests(module))) == 1
        entry = {"world_size": self.world_size, "backend": self.ctx.backend,
                 "batch_per_process": batch_size, "weights_identical": same}
        return entry, "" if same else "warning: the ranks' final weights differ"

    def explain(self, exc: BaseException) -> str | None:
        return self.ctx.explain(exc)

    def abandoned(self, exc: BaseException) -> str | None:
        return (f"{str(exc) or type(exc).__name__} on {self.ctx} (another rank failed or the launcher "
                f"stopped the run); the last finished epoch's checkpoint is kept")

    def release(self) -> None:
        import gc
        gc.collect()   # DDP's reducer goes while the process group still exists


def session_for(ctx) -> Local:
    """The session of a run: one process (ctx None) or a torchrun rank."""
    return Local() if ctx is None else Distributed(ctx)
