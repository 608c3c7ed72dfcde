"""What the experiment trackers (tensorboard_log.py, mlflow_log.py) share: the names and values
they log, so a run reads the same in TensorBoard, in MLflow and in its own metrics.jsonl.

Both trackers are trainer callbacks with a `bind(trainer)` method that the Trainer calls when it
is constructed: they learn the run folder (`trainer.folder`, set just before the "start" event)
and the training settings from it. A run that writes no folder (save=False, ranks > 0 of a
distributed run) is not tracked. Neither may stop a training: an error while logging becomes
one warning in `tracker.warnings` and the tracker stops.

Names: per epoch `train_loss`, `val_loss`, `val_<metric>` (every numeric metric of the
validation split) and `lr`, at step = epoch; at the end `final/<split>_<metric>` of the kept
weights (the summary's train, val and test figures).
"""
from __future__ import annotations

import math

from workbench.core.spec import OPTIMIZER_ROLE

NAMES = ("tensorboard", "mlflow")
EXTRA_HINT = "--log {name} needs the {name} extra: pip install workbench[{name}]"


class TrackingError(Exception):
    """A tracker cannot be used (its extra is not installed); one line for the user."""


def missing(name: str) -> TrackingError:
    return TrackingError(EXTRA_HINT.format(name=name))


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def epoch_scalars(event) -> dict[str, float]:
    """The figures of one epoch event; None and NaN are left out (neither tool shows a gap)."""
    out = {"train_loss": _number(event.train_loss), "val_loss": _number(event.val_loss)}
    for key, value in (event.metrics.get("val") or {}).items():
        if key != "loss":
            out[f"val_{key}"] = _number(value)
    out["lr"] = _number(event.lr)
    return {k: v for k, v in out.items() if v is not None}


def final_scalars(event) -> dict[str, float]:
    """The end event's figures of the kept weights, by split."""
    out = {}
    for split in ("train", "val", "test"):
        for key, value in (event.metrics.get(split) or {}).items():
            number = _number(value)
            if number is not None:
                out[f"final/{split}_{key}"] = number
    return out


def settings_params(trainer) -> dict[str, object]:
    """The training settings as trained (overrides applied), flat, plus the optimizer and its
    learning rate (a parameter of the graph's optimizer node, not a training setting)."""
    out: dict[str, object] = {}
    for key, value in trainer.settings.to_dict().items():
        if isinstance(value, dict):
            out.update({f"training/{key}.{k}": v for k, v in value.items()})
        else:
            out[f"training/{key}"] = value
    optimizer = next((n for n in trainer.project.graph.nodes.values()
                      if n.spec is not None and n.spec.role == OPTIMIZER_ROLE), None)
    if optimizer is not None:
        out["training/optimizer"] = optimizer.type
        if _number(optimizer.params.get("lr")) is not None:
            out["training/lr"] = float(optimizer.params["lr"])
    return out


def params(trainer, hparams: dict | None) -> dict[str, object]:
    """Training settings, then the caller's hparams (a search's trial values win)."""
    return {**settings_params(trainer), **(hparams or {})}


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
