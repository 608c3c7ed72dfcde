"""What the user chose about their data, as saved in the project file (`project["data"]`).

Plain values only, so the project stays JSON. `to_dict` always writes every key in the same
order with defaults filled in, so that saving twice gives the same file and a diff shows
only real changes; `from_dict` checks every value so that a hand-edited project fails on
load with a message instead of deep inside training.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields

from workbench.data.errors import DataError

TASKS = ("auto", "classification", "regression")
ROLES = ("feature", "target", "ignore")
MAX_TEXT_LEN = 100_000  # tokens per text; longer texts are cut
TYPES = ("numeric", "categorical", "text", "image")
NUMERIC = ("standardize", "minmax", "none")
MISSING = ("drop", "mean", "median", "constant")
CATEGORICAL = ("onehot", "index")
PADDING = ("pre", "post")

TEXT_DEFAULTS = {"lowercase": True, "min_freq": 1, "max_vocab": 20000, "max_len": 0,
                 "pad": "pre", "truncate": "post"}
SPLIT_DEFAULTS = {"val": 0.15, "test": 0.15, "seed": 0, "stratify": True, "kfold": 0}
AUGMENT_DEFAULTS = {"noise_std": 0.0, "token_dropout": 0.0, "flip": 0.0, "vflip": 0.0,
                    "rotate": 0.0, "crop": 0.0, "jitter": 0.0, "cutout": 0.0}
# height/width 0: the training images' most common size, the long side at most 64
IMAGE_DEFAULTS = {"height": 0, "width": 0, "mode": "resize", "channels": "auto",
                  "corrupt": "skip", "cache": "auto", "workers": 2}
IMAGE_MODES = ("resize", "crop", "pad")
IMAGE_CHANNELS = ("auto", "L", "RGB", "RGBA")
CORRUPT = ("skip", "refuse")
CACHE = ("auto", "memory", "stream")
MAX_IMAGE_SIDE = 4096
# augment keys that are probabilities (below 1), and the others' upper bounds
AUGMENT_LIMITS = {"flip": 1.0, "vflip": 1.0, "rotate": 180.0, "crop": 0.9, "jitter": 1.0,
                  "cutout": 1.0}


@dataclass
class DataSettings:
    path: str = ""               # training file or image folder, relative to the project folder
    test_path: str = ""          # optional separate test file (test.txt beside train.txt)
    target: str = ""             # "" = best guess: a column named target/label/class/y, else the last
    task: str = "auto"           # auto | classification | regression
    roles: dict[str, str] = field(default_factory=dict)   # column -> feature|target|ignore
    types: dict[str, str] = field(default_factory=dict)   # column -> numeric|categorical|text
    numeric: str = "standardize"
    missing: str = "mean"
    fill_value: float = 0.0
    categorical: str = "onehot"
    text: dict = field(default_factory=lambda: dict(TEXT_DEFAULTS))
    image_shape: str = ""        # "C,H,W": numeric features reshaped for Conv2d
    split: dict = field(default_factory=lambda: dict(SPLIT_DEFAULTS))
    augment: dict = field(default_factory=lambda: dict(AUGMENT_DEFAULTS))
    image: dict = field(default_factory=lambda: dict(IMAGE_DEFAULTS))
    inputs: list = field(default_factory=list)  # [{"name", "columns"}]; [] = one input

    def __post_init__(self) -> None:
        # Partial dicts given in code (DataSettings(split={"val": 0.2})) get the other defaults.
        self.text = {**TEXT_DEFAULTS, **self.text}
        self.split = {**SPLIT_DEFAULTS, **self.split}
        self.augment = {**AUGMENT_DEFAULTS, **self.augment}
        self.image = {**IMAGE_DEFAULTS, **self.image}

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = copy.deepcopy(getattr(self, f.name))
            if f.name in ("roles", "types"):
                value = dict(sorted(value.items()))
            elif f.name == "text":
                value = {k: value[k] for k in TEXT_DEFAULTS}
            elif f.name == "split":
                value = {k: value[k] for k in SPLIT_DEFAULTS}
            elif f.name == "augment":
                value = {k: value[k] for k in AUGMENT_DEFAULTS}
            elif f.name == "image":
                value = {k: value[k] for k in IMAGE_DEFAULTS}
            elif f.name == "inputs":
                value = [{"name": g["name"], "columns": list(g["columns"])} for g in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> "DataSettings":
        d = {} if d is None else d
        if not isinstance(d, dict):
            raise DataError(f"data settings must be a mapping, not {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise DataError(f"data settings: unknown key '{unknown[0]}' (known: {', '.join(names)})")
        for key in ("roles", "types", "text", "split", "augment", "image"):
            if not isinstance(d.get(key, {}), dict):
                _fail(f"{key} must be a mapping, not {d[key]!r}")
        if not isinstance(d.get("inputs", []), list):
            _fail(f"inputs must be a list, not {d['inputs']!r}")
        return cls(**copy.deepcopy(d)).validate()

    def validate(self) -> "DataSettings":
        """Raise DataError naming the first bad value; returns self so calls can chain."""
        for key in ("path", "test_path", "target", "image_shape"):
            if not isinstance(getattr(self, key), str):
                _fail(f"{key} must be text, not {getattr(self, key)!r}")
        _choice("task", self.task, TASKS)
        _choice("numeric", self.numeric, NUMERIC)
        _choice("missing", self.missing, MISSING)
        _choice("categorical", self.categorical, CATEGORICAL)
        for column, role in self.roles.items():
            _choice(f"roles['{column}']", role, ROLES)
        for column, kind in self.types.items():
            _choice(f"types['{column}']", kind, TYPES)
        _number("fill_value", self.fill_value)
        _known("text", self.text, TEXT_DEFAULTS)
        _known("split", self.split, SPLIT_DEFAULTS)
        _known("augment", self.augment, AUGMENT_DEFAULTS)
        t = self.text
        if not isinstance(t["lowercase"], bool):
            _fail(f"text.lowercase must be true or false, not {t['lowercase']!r}")
        _whole("text.min_freq", t["min_freq"], 1)
        _whole("text.max_vocab", t["max_vocab"], 3)
        _whole("text.max_len", t["max_len"], 0, MAX_TEXT_LEN)
        _choice("text.pad", t["pad"], PADDING)
        _choice("text.truncate", t["truncate"], PADDING)
        sp = self.split
        for key in ("val", "test"):
            _number(f"split.{key}", sp[key])
            if not 0 <= sp[key] < 1:
                _fail(f"split.{key} must be at least 0 and below 1, not {sp[key]!r}")
        if sp["val"] + sp["test"] >= 1:
            _fail(f"split.val + split.test must stay below 1, not {sp['val'] + sp['test']:g}")
        _whole("split.seed", sp["seed"], 0)
        _whole("split.kfold", sp["kfold"], 0)
        if sp["kfold"] == 1:
            _fail("split.kfold must be 0 (off) or at least 2, not 1")
        if not isinstance(sp["stratify"], bool):
            _fail(f"split.stratify must be true or false, not {sp['stratify']!r}")
        _number("augment.noise_std", self.augment["noise_std"])
        if self.augment["noise_std"] < 0:
            _fail(f"augment.noise_std must not be negative, not {self.augment['noise_std']!r}")
        _number("augment.token_dropout", self.augment["token_dropout"])
        if not 0 <= self.augment["token_dropout"] < 1:
            _fail(f"augment.token_dropout must be at least 0 and below 1, not "
                  f"{self.augment['token_dropout']!r}")
        for key, top in AUGMENT_LIMITS.items():
            value = self.augment[key]
            _number(f"augment.{key}", value)
            if not 0 <= value <= top:
                _fail(f"augment.{key} must be between 0 and {top:g}, not {value!r}")
        self._validate_image()
        self._validate_inputs()
        self.image_dims()
        return self

    def _validate_image(self) -> None:
        im = self.image
        _known("image", im, IMAGE_DEFAULTS)
        for key in ("height", "width"):
            _whole(f"image.{key}", im[key], 0, MAX_IMAGE_SIDE)
        if (im["height"] == 0) != (im["width"] == 0):
            _fail("image.height and image.width are both 0 (automatic) or both set, not "
                  f"{im['height']} and {im['width']}")
        _choice("image.mode", im["mode"], IMAGE_MODES)
        _choice("image.channels", im["channels"], IMAGE_CHANNELS)
        _choice("image.corrupt", im["corrupt"], CORRUPT)
        _choice("image.cache", im["cache"], CACHE)
        _whole("image.workers", im["workers"], 0, 64)

    def _validate_inputs(self) -> None:
        """Input groups: each a name (unique) and the columns it reads, each column in one
        group only; what kind of tensor a group makes is decided by its columns at load."""
        seen_names, seen_columns = set(), {}
        for i, group in enumerate(self.inputs):
            where = f"inputs[{i}]"
            if not isinstance(group, dict) or set(group) != {"name", "columns"}:
                _fail(f"{where} must be a mapping with name and columns, not {group!r}")
            name, columns = group["name"], group["columns"]
            if not isinstance(name, str) or not name.strip():
                _fail(f"{where}.name must be a non-empty text, not {name!r}")
            if name in seen_names:
                _fail(f"{where}: the input name '{name}' is used twice")
            seen_names.add(name)
            if not isinstance(columns, list) or not columns or \
                    not all(isinstance(c, str) for c in columns):
                _fail(f"{where}.columns must be a non-empty list of column names, not {columns!r}")
            for c in columns:
                if c in seen_columns:
                    _fail(f"column '{c}' is in two inputs ('{seen_columns[c]}' and '{name}')")
                seen_columns[c] = name

    def image_dims(self) -> tuple[int, ...] | None:
        """image_shape as (C, H, W), or None when unset."""
        text = self.image_shape.strip()
        if not text:
            return None
        try:
            dims = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
        except ValueError:
            dims = ()
        if len(dims) not in (2, 3) or min(dims) <= 0:
            _fail(f"image_shape must be C,H,W with positive sizes (e.g. 1,8,8), not {text!r}")
        return dims if len(dims) == 3 else (1, *dims)


def _fail(message: str):
    raise DataError(f"data settings: {message}")


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        _fail(f"{name} must be one of {', '.join(choices)}; not {value!r}")


def _number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(f"{name} must be a number, not {value!r}")


def _whole(name: str, value, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    if maximum is not None and value > maximum:
        # every text becomes a row of this many ids: 10**12 would allocate terabytes
        _fail(f"{name} must be at most {maximum:,}, not {value:,}")


def _known(name: str, value: dict, defaults: dict) -> None:
    for key in value:
        if key not in defaults:
            _fail(f"unknown key {name}.{key} (known: {', '.join(defaults)})")
