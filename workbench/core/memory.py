"""How much memory a model needs, and how much this process may still take — so that a model
that cannot fit is refused by name before anything is allocated, not OOM-killed a minute later.

The figures come from shape inference (parameter counts are taken on the meta device, output
shapes are known), so estimating costs nothing. They are estimates: float32 weights, and for
training the weights, their gradients and two optimizer moments (Adam's, the most a built-in
optimizer keeps), plus every node's output kept for the backward pass and its gradient.
On a GPU the device's own memory is the trainer's concern: `estimate` is the same.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.core.types import TensorType

PARAM_BYTES = 4          # float32
TRAINING_COPIES = 4      # weights, gradients, two optimizer moments
GiB = 1024 ** 3


@dataclass(frozen=True)
class Estimate:
    params: int              # trainable parameters
    weights: int             # bytes of the weights alone (inference, export)
    activations: int         # bytes of the node outputs for one sample
    batch_size: int

    @property
    def training(self) -> int:
        """Bytes a training step needs: weights, gradients, optimizer state, activations
        (kept for backward, and their gradients) for a whole batch."""
        return self.weights * TRAINING_COPIES + 2 * self.activations * self.batch_size


def amount(n: float) -> str:
    """'22.4 GiB' ('512.0 MiB' below one GiB: a figure of 0.0 GiB says nothing)."""
    return f"{n / GiB:,.1f} GiB" if n >= GiB else f"{n / 1024 ** 2:,.1f} MiB"


def estimate(params: int, outputs: dict[str, dict[str, TensorType]],
             batch_size: int = 1) -> Estimate:
    """From the analysis' parameter total and output types. Named sizes other than the batch
    (a sequence length known only at run time) count as 1: a lower bound, never a false alarm."""
    per_sample = 0
    for ports in outputs.values():
        for t in ports.values():
            n = 1
            for d in t.features:
                n *= d if isinstance(d, int) else 1
            per_sample += n * (8 if t.dtype == "int64" else 4)
    return Estimate(params, params * PARAM_BYTES, per_sample, max(1, int(batch_size)))


def available() -> int | None:
    """Bytes this process can still get: the least of the system's available memory, a cgroup
    (container) limit and this process' address-space limit (RLIMIT_AS). None if unknown."""
    found = [n for n in (_meminfo_available(), _cgroup_left(), _rlimit_left()) if n is not None]
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_left() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _rlimit_left() -> int | None:
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, AttributeError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)
