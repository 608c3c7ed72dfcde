"""Progress events: what the trainer tells the app, the CLI and metrics.jsonl.

The trainer never talks to a UI. It hands plain `Event` objects to callbacks, at a bounded
rate (`EventGate`: at most ~20 step events a second, but always the epoch ends and the
start/end/stop events), because a chart cannot draw faster than that and reading values
from an accelerator costs a synchronisation each time.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

KINDS = ("start", "step", "epoch", "end", "error", "paused", "resumed", "stopped")


@dataclass
class Event:
    kind: str                              # one of KINDS
    epoch: int = 0                         # 1-based; 0 before the first epoch
    epochs: int = 0
    step: int = 0                          # global optimizer steps done (continues on resume)
    steps: int = 0                         # total steps the run plans
    train_loss: float | None = None        # mean over the epoch so far
    val_loss: float | None = None
    metrics: dict = field(default_factory=dict)   # e.g. {"val": {...}, "test": {...}}
    lr: float | None = None
    samples_per_s: float | None = None
    eta_s: float | None = None
    message: str = ""
    grad_norms: dict[str, float] = field(default_factory=dict)  # node id -> gradient L2 norm
    # node id -> {"mean", "std", "zero_frac"[, "dead_frac" for ReLU]} of its output in one
    # sampled step (see insight.py); empty when no step was sampled since the last event
    act_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def to_json(self) -> dict:
        """A JSON-safe dict (NaN/Inf become None, as JSON has no such numbers)."""
        return _clean(asdict(self))


def _clean(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


Callback = Callable[[Event], None]


class EventGate:
    """Says when a step event is due: at most `rate` per second."""

    def __init__(self, rate: float = 20.0, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.last = -math.inf

    def due(self) -> bool:
        return self.clock() - self.last >= self.interval

    def mark(self) -> None:
        self.last = self.clock()
