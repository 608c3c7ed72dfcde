"""When a run's checkpoints are written: the trainer says "this epoch ended (and was the best)",
the Checkpointer decides what goes to disk and keeps what does not yet.

Writing is throttled to one epoch end every `every_s` seconds: with epochs of a few
milliseconds (iris, digits) writing three files each epoch would cost more than the training.
An epoch end not yet written waits as `pending` (a copy of its weights and training state) and
is written at the next chance or by `flush` when the run ends, so the newest finished epoch is
never lost and the weights of a half-done epoch are never written. The best epoch's weights are
kept as a CPU copy even without a folder: restore_best needs them.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

from workbench.train import runs
from workbench.train.checkpoint import load_checkpoint, save_checkpoint


class Checkpointer:
    def __init__(self, folder: Path | None, every_s: float = 2.0):
        self.folder, self.every_s = folder, every_s
        self.best_state: dict | None = None   # CPU copy of the best epoch's weights
        self.best_meta: dict | None = None
        self.best_unsaved = False
        self.pending: tuple | None = None     # (weights, training state, meta) of an unwritten epoch end
        self.last_write = -math.inf
        self.last_saved_epoch = 0             # the epoch of last.pt on disk (0: none yet)

    def keep_best(self, weights: dict, meta: dict) -> None:
        self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in weights.items()}
        self.best_meta, self.best_unsaved = meta, True

    def epoch_end(self, weights: dict, state: dict, meta: dict) -> None:
        """Write this epoch end now, or keep a copy of it for later (throttled, see above)."""
        if self.folder is None:
            return
        if time.monotonic() - self.last_write >= self.every_s:
            self.pending = None
            self._write(weights, state, meta)
        else:
            self.pending = ({k: v.detach().clone() for k, v in weights.items()}, copy.deepcopy(state), meta)

    def flush(self) -> None:
        """Write the newest unwritten epoch end (and an unwritten best)."""
        if self.folder is None:
            return
        if self.pending is not None:
            self._write(*self.pending)
            self.pending = None
        elif self.best_unsaved and self.best_state is not None:
            save_checkpoint(self.folder, "best", self.best_state, self.best_meta)
            self.best_unsaved = False

    def restored(self, folder: Path, epoch: int) -> None:
        """A resumed run: last.pt is at `epoch`, and best.pt (if any) is the best so far."""
        self.last_saved_epoch = epoch
        if (folder / "best.pt").exists():
            self.best_state, _ = load_checkpoint(folder, "best")

    def last_weights(self) -> dict:
        """The weights of last.pt (the newest epoch end written)."""
        state, _ = load_checkpoint(self.folder, "last")
        return state

    def _write(self, weights: dict, state: dict, meta: dict) -> None:
        """best (if it changed) and last + the training state of one epoch end."""
        if self.best_unsaved and self.best_state is not None:
            save_checkpoint(self.folder, "best", self.best_state, self.best_meta)
            self.best_unsaved = False
        save_checkpoint(self.folder, "last", weights, meta)
        runs.save_state(self.folder, state)
        self.last_saved_epoch = int(meta["epoch"])
        self.last_write = time.monotonic()
