"""Training on several processes with PyTorch's own engine: torchrun + DistributedDataParallel.

    torchrun --nproc_per_node=4 -m workbench train project.wbproj --distributed

torchrun starts one process per GPU (or per CPU slot) and tells each, through its environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), who it is and where the others are.
This module turns that into a `Context` (`setup()` / the `session()` context manager), and
gives the trainer what it needs and nothing more:

- the process group: NCCL on CUDA (one GPU per process, `cuda:LOCAL_RANK`), Gloo on the CPU,
  with a short collective timeout (`WORKBENCH_DIST_TIMEOUT` seconds, default 120) so a rank
  that stops answering makes the others fail with a clear error instead of waiting forever;
- sharding of the in-memory tensors like `torch.utils.data.DistributedSampler`: one shuffled
  order per epoch drawn from a generator seeded the same on every rank, padded to a multiple
  of the world size, rank r taking every world-th index from r (so every rank runs the same
  number of steps); evaluation splits are cut into contiguous, unpadded pieces;
- reductions: the evaluation sums (loss, confusion matrix, regression sums) are summed over
  the ranks, so the metrics equal the single-process ones over the whole split;
- an agreed stop: a Ctrl-C seen by any rank stops all of them at the same batch;
- a clean `destroy_process_group` on success, error, Ctrl-C and SIGTERM (bounded in time).

Only rank 0 writes the run folder; the CLI prints only on rank 0.

Test and debugging aids (environment): WORKBENCH_DIST_DUMP=DIR makes every rank write its
final weights to DIR/rank<N>.pt; WORKBENCH_DIST_FAULT="RANK:STEP:MODE" makes that rank fail at
that training step of the run, MODE exit (os._exit(3)), kill (SIGKILL itself) or hang.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.distributed as dist

TIMEOUT_ENV = "WORKBENCH_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
DUMP_ENV = "WORKBENCH_DIST_DUMP"
FAULT_ENV = "WORKBENCH_DIST_FAULT"
AGREE_EVERY = 8          # batches between two stop agreements (one 1-element all_reduce)


class DistributedError(Exception):
    """Distributed training cannot start or cannot go on; one line for the user."""


class Interrupted(BaseException):
    """SIGTERM (or a second Ctrl-C) during a distributed run: unwind now, cleanly."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def launched() -> bool:
    """True inside a process started by torchrun (or anything that sets the same variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise DistributedError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise DistributedError(f"{TIMEOUT_ENV} must be positive, not {raw}")
    return value


def pick_device(name: str | None, local_rank: int) -> torch.device:
    """`cuda:LOCAL_RANK` for auto/cuda when CUDA is there, else the CPU (Apple MPS has no
    distributed backend)."""
    name = (name or "auto").lower()
    if name == "mps":
        raise DistributedError("distributed training runs on CUDA GPUs or the CPU, not on Apple MPS")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise DistributedError(f"local rank {local_rank} has no GPU of its own: this machine has "
                                   f"{count}; start at most {count} processes per node")
        return torch.device("cuda", local_rank)
    if name.startswith("cuda"):
        raise DistributedError(f"device '{name}' asked for, but this PyTorch sees no CUDA GPU")
    return torch.device("cpu")


@dataclass
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str
    timeout_s: float
    ok: bool = False     # set when every rank finished alike: the group then ends with a barrier

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __str__(self) -> str:
        return f"rank {self.rank}/{self.world_size}"

    # -- data --------------------------------------------------------------------------------

    def shard_rows(self, n: int) -> int:
        """Rows of the training split each rank sees per epoch (padded like DistributedSampler)."""
        return -(-n // self.world_size)

    def train_batches(self, split, batch_size: int, generator: torch.Generator,
                      stop_wanted: threading.Event, stop: threading.Event,
                      fault=None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's shuffled batches of one epoch. The order is drawn from `generator`,
        which holds the same state on every rank, so the shards never overlap. Every
        AGREE_EVERY batches the ranks agree on whether any of them wants to stop; then `stop`
        is set on all of them before the same batch."""
        xs, y = getattr(split, "xs", None) or (split.x,), split.y
        if not all(isinstance(x, torch.Tensor) for x in xs):
            raise RuntimeError("a distributed run needs its images cached in memory: set the "
                               "image cache to memory (or train on one process)")
        n, world = int(y.shape[0]), self.world_size
        order = torch.randperm(n, generator=generator, device=generator.device)
        total = self.shard_rows(n) * world
        if total > n:  # pad by repeating the start of the order, as DistributedSampler does
            order = order.repeat(-(-total // n))[:total]
        mine = order[self.rank:total:world].to(y.device)
        for i, start in enumerate(range(0, int(mine.shape[0]), batch_size)):
            if i % AGREE_EVERY == 0 and self.any(stop_wanted.is_set()):
                stop.set()
            if fault is not None:
                fault.tick()
            idx = mine[start:start + batch_size]
            picked = tuple(x.index_select(0, idx) for x in xs)
            yield (picked[0] if len(picked) == 1 else picked), y.index_select(0, idx)

    def eval_piece(self, split):
        """A contiguous, unpadded piece of an evaluation split (the pieces cover it once)."""
        n = int(split.y.shape[0])
        a, b = n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size
        from workbench.data.prepared import Split

        xs = getattr(split, "xs", None) or (split.x,)
        return Split(tuple(x[a:b] for x in xs), split.y[a:b])

    # -- reductions ----------------------------------------------------------------------------

    def any(self, flag: bool) -> bool:
        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def mean(self, mean: float, count: int) -> float:
        """The mean over all ranks of per-rank means of `count` values each."""
        total, n = self.sum([mean * count if count else 0.0, float(count)])
        return total / n if n else float("nan")

    def reduce_accumulator(self, acc, split) -> None:
        """Sum a metrics.Accumulator's sums over the ranks, in place."""
        head = torch.stack([acc.loss_sum.to(torch.float64),
                            torch.tensor(float(acc.count), dtype=torch.float64, device=acc.loss_sum.device)])
        dist.all_reduce(head)
        acc.loss_sum = head[0].to(acc.dtype)
        acc.count = int(head[1].item())
        if acc.task == "classification":
            dist.all_reduce(acc.confusion)
        else:
            if acc.sums is None:  # this rank's piece was empty
                cols = int(torch.tensor(split.y.shape[1:]).prod().item()) if split.y.dim() > 1 else 1
                acc.sums = torch.zeros(4, cols, dtype=acc.dtype, device=acc.loss_sum.device)
            dist.all_reduce(acc.sums)

    def broadcast_weights(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        for t in module.state_dict().values():
            dist.broadcast(t, 0)

    def weight_digests(self, module: torch.nn.Module) -> list[str]:
        """Every rank's weights_digest, in rank order (one all_gather)."""
        out: list = [None] * self.world_size
        dist.all_gather_object(out, weights_digest(module))
        return out

    def explain(self, exc: BaseException) -> str | None:
        """A one-line message for errors of the collectives (a peer gone or silent)."""
        text = " ".join(str(exc).split()).split(". This is typically caused")[0]
        low = text.lower()
        if isinstance(exc, getattr(dist, "DistError", ())) or any(
                m in low for m in ("gloo", "nccl", "connection reset", "connection closed",
                                   "timed out", "timeout", "broken pipe", "socket")):
            why = ("timed out waiting for another rank (it hangs or is too slow; "
                   f"{TIMEOUT_ENV}={self.timeout_s:g} s)" if "timed out" in low or "timeout" in low
                   else "lost the connection to another rank (it exited or crashed)")
            return f"distributed training failed on {self}: {why}: {text[:300]}"
        return None


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes), in order."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


# -- the process group ---------------------------------------------------------------------------

def setup(device: str | None = "auto", timeout: float | None = None) -> Context:
    """Join the process group torchrun describes in the environment; NCCL on CUDA, Gloo on the
    CPU. Raises DistributedError outside torchrun or when the group cannot form in time."""
    if not launched():
        raise DistributedError("--distributed needs the environment torchrun sets (RANK, WORLD_SIZE, "
                               "...): start it as `torchrun --nproc_per_node=N -m workbench train "
                               "PROJECT --distributed`")
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError as exc:
        raise DistributedError(f"bad torchrun environment: {exc}") from None
    wait = float(timeout) if timeout else timeout_s()
    dev = pick_device(device, local_rank)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=wait))
        except Exception as exc:  # noqa: BLE001 - one line for the user
            raise DistributedError(f"rank {rank}/{world}: the process group did not form ({backend}, "
                                   f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}): "
                                   + " ".join(str(exc).split())[:300]) from None
    return Context(rank, world, local_rank, dev, backend, wait)


def shutdown(wait_s: float = 10.0, ctx: Context | None = None) -> bool:
    """destroy_process_group, but never wait more than `wait_s` (after a peer failed, NCCL's
    teardown can block). True when the group is gone. With `ctx.ok` (every rank finished the
    same way) the ranks first meet, so that they tear down together: a rank destroying its
    group while a DDP peer is still busy (rank 0 writing files) was seen to abort the peer
    ("terminate called without an active exception") with Gloo across two torchrun agents."""
    if not (dist.is_available() and dist.is_initialized()):
        return True
    if ctx is not None and ctx.ok:  # every peer is alive and past its last collective
        try:
            ctx.any(False)
            dist.destroy_process_group()
            return True
        except Exception:  # noqa: BLE001 - then as after a failure
            pass
    done = threading.Event()

    def destroy():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
        done.set()

    threading.Thread(target=destroy, name="workbench-dist-shutdown", daemon=True).start()
    return done.wait(wait_s)


@contextlib.contextmanager
def session(device: str | None = "auto", timeout: float | None = None, *, signals: bool = True):
    """`with session() as ctx:` - the process group for the block, destroyed however it ends.
    With `signals`, SIGTERM raises `Interrupted` in the main thread so the block unwinds
    (checkpoints flushed, group destroyed) instead of the process dying mid-write."""
    previous = None
    active = [True]
    if signals and threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):
            if active[0]:
                active[0] = False
                raise Interrupted(signum)
        previous = signal.signal(signal.SIGTERM, on_term)
    ctx = None
    try:
        ctx = setup(device, timeout)
        yield ctx
    finally:
        active[0] = False
        shutdown(ctx=ctx)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# -- test and debugging aids -------------------------------------------------------------------

class Fault:
    """WORKBENCH_DIST_FAULT="RANK:STEP:MODE": this rank fails at that training step."""

    def __init__(self, step: int, mode: str):
        self.step, self.mode, self.seen = step, mode, 0

    @classmethod
    def from_env(cls, rank: int) -> "Fault | None":
        raw = os.environ.get(FAULT_ENV, "")
        if not raw:
            return None
        r, step, mode = raw.split(":")
        return cls(int(step), mode) if int(r) == rank else None

    def tick(self) -> None:
        self.seen += 1
        if self.seen < self.step:
            return
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.mode == "hang":
            while True:
                time.sleep(1)
        os._exit(3)


def dump_weights(module: torch.nn.Module, ctx: Context) -> Path | None:
    folder = os.environ.get(DUMP_ENV)
    if not folder:
        return None
    from workbench.train.checkpoint import save_tensors
    path = Path(folder) / f"rank{ctx.rank}.pt"
    save_tensors({k: v.detach().cpu() for k, v in module.state_dict().items()}, path)
    return path
