"""`--log tensorboard`: a run's curves and hyperparameters in TensorBoard.

One event file in the run folder itself (SummaryWriter(log_dir=run folder)), so
`tensorboard --logdir runs/` lists one run per run folder, named like it. The hyperparameters
are written into that same file with `summary.hparams` (SummaryWriter.add_hparams would make a
sub-folder, which TensorBoard shows as a second run). A resumed run adds a second event file
whose purge step drops what the first logged after the checkpoint, so the curve has no
doubled epochs. See tracking.py for the names and docs/tracking.md for how to look at them.
"""
from __future__ import annotations

from workbench.train import tracking


class TensorBoardLog:
    """Trainer callback. `hparams` (e.g. a search trial's {"search/lr": 0.01}) is written with
    the project's training settings; the Trainer calls `bind` itself."""

    def __init__(self, hparams: dict | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams as hparams_summary
        except ImportError:
            raise tracking.missing("tensorboard") from None
        self._writer_class, self._hparams_summary = SummaryWriter, hparams_summary
        self.hparams = dict(hparams or {})
        self.trainer = None
        self.writer = None
        self.warnings: list[str] = []
        self.done = False

    def bind(self, trainer) -> None:
        self.trainer = trainer

    def __call__(self, event) -> None:
        if self.done or (self.writer is None and event.kind != "start"):
            return
        try:
            self._handle(event)
        except Exception as exc:  # noqa: BLE001 - logging never ends a training
            self.warnings.append(f"tensorboard: {tracking.one_line(exc)}; stopped logging")
            self.close()

    def _handle(self, event) -> None:
        if event.kind == "start":
            folder = getattr(self.trainer, "folder", None)
            if folder is None:
                self.done = True
                return
            self.writer = self._writer_class(log_dir=str(folder),
                                             purge_step=event.epoch + 1 if event.epoch else None)
        elif event.kind == "epoch":
            for tag, value in tracking.epoch_scalars(event).items():
                self.writer.add_scalar(tag, value, event.epoch)
            self.writer.flush()
        elif event.kind in ("end", "error"):  # an error may be followed by an end: the first wins
            self._finish(event)

    def _finish(self, event) -> None:
        final = tracking.final_scalars(event)
        for tag, value in final.items():
            self.writer.add_scalar(tag, value, event.epoch)
        values = {k: v for k, v in tracking.params(self.trainer, self.hparams).items()
                  if isinstance(v, (bool, int, float, str))}
        for summary in self._hparams_summary(values, final):
            self.writer.file_writer.add_summary(summary)
        self.close()

    def close(self) -> None:
        """Flush and close the event file; idempotent (the CLI calls it after the run)."""
        self.done = True
        if self.writer is not None:
            self.writer.close()
            self.writer = None
