"""What the user chose about training, as saved in the project file (`project["training"]`).

`project.training` stays the plain dict read from the file, so load → save reproduces the file
byte for byte; every reader goes through `TrainingSettings.from_dict(project.training)`, which
checks each value by its key, so `"epochs": "ten"` is refused as `training.epochs: ...` by
`workbench validate`, `workbench train` and the app instead of as an `int()` error deep inside
the trainer. The learning rate is not here: it is a parameter of the graph's optimizer node.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

DEVICES = ("auto", "cpu", "cuda", "mps")       # "cuda:N" too
PRECISIONS = ("fp32", "bf16", "fp16")


class TrainingSettingsError(ValueError):
    """A training setting that cannot be used; one line starting with `training.<key>`."""


@dataclass
class EarlyStopping:
    enabled: bool = True
    metric: str = "val_loss"     # val_loss or val_<metric>; which metrics exist depends on the task
    patience: int = 5            # epochs without improvement before stopping
    min_delta: float = 0.0       # an improvement smaller than this does not count
    restore_best: bool = True    # end with the best epoch's weights rather than the last


@dataclass
class TrainingSettings:
    epochs: int = 20
    batch_size: int = 32
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 0
    grad_clip: float = 0.0       # max gradient L2 norm; 0 = no clipping
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)

    def to_dict(self) -> dict:
        """Every key in the file's order, defaults filled in."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "TrainingSettings":
        """Raise TrainingSettingsError naming the first bad key; missing keys take defaults."""
        found = problems(d)
        if found:
            raise TrainingSettingsError(found[0])
        d = dict(d or {})
        es = EarlyStopping(**d.pop("early_stopping", {}))
        settings = cls(**d, early_stopping=es)
        settings.grad_clip = float(settings.grad_clip)
        es.min_delta = float(es.min_delta)
        return settings

    def validate(self) -> "TrainingSettings":
        """Raise TrainingSettingsError naming the first bad value; returns self to chain."""
        found = problems(self.to_dict())
        if found:
            raise TrainingSettingsError(found[0])
        return self


def problems(d) -> list[str]:
    """Every problem of a training dict as it is in a file, each naming its key."""
    if d is None:
        return []
    if not isinstance(d, dict):
        return [f"training: expected an object, got {_show(d)}"]
    out: list[str] = []
    _unknown("training", d, [f.name for f in fields(TrainingSettings)], out)
    _whole(d, "epochs", 1, out)
    _whole(d, "batch_size", 1, out)
    _whole(d, "seed", 0, out)
    if "device" in d:
        device = d["device"]
        if not isinstance(device, str) or not _known_device(device):
            out.append(f"training.device: expected one of {', '.join(DEVICES)} (or cuda:N), "
                       f"got {_show(device)}")
    if "precision" in d and d["precision"] not in PRECISIONS:
        out.append(f"training.precision: expected one of {', '.join(PRECISIONS)}, "
                   f"got {_show(d['precision'])}")
    _number(d, "grad_clip", out)
    es = d.get("early_stopping", {})
    if not isinstance(es, dict):
        out.append(f"training.early_stopping: expected an object such as "
                   f'{{"enabled": true, "patience": 5}}, got {_show(es)}')
        return out
    where = "training.early_stopping"
    _unknown(where, es, [f.name for f in fields(EarlyStopping)], out)
    for key in ("enabled", "restore_best"):
        if key in es and not isinstance(es[key], bool):
            out.append(f"{where}.{key}: expected true or false, got {_show(es[key])}")
    if "metric" in es and not (isinstance(es["metric"], str) and es["metric"].strip()):
        out.append(f"{where}.metric: expected a metric name such as \"val_loss\", got {_show(es['metric'])}")
    _whole(es, "patience", 1, out, where)
    _number(es, "min_delta", out, where)
    return out


def _known_device(name: str) -> bool:
    base, _, index = name.lower().partition(":")
    if base not in DEVICES:
        return False
    return not index or (base == "cuda" and index.isdigit())


def _unknown(where: str, d: dict, known: list[str], out: list[str]) -> None:
    for key in d:
        if key not in known:
            out.append(f"{where}.{key}: unknown setting (known: {', '.join(known)})")


def _whole(d: dict, key: str, minimum: int, out: list[str], where: str = "training") -> None:
    if key not in d:
        return
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        out.append(f"{where}.{key}: expected a whole number >= {minimum}, got {_show(v)}")


def _number(d: dict, key: str, out: list[str], where: str = "training") -> None:
    if key not in d:
        return
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        out.append(f"{where}.{key}: expected a number >= 0, got {_show(v)}")


def _show(value) -> str:
    """The value as it reads in the file (JSON), cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
