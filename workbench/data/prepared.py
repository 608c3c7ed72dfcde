"""From data settings to training-ready tensors: read, describe, split, fit, transform.

The whole data set stays in memory as tensors (and can move to the training device in one
call), because the data sets Workbench is for fit easily and index-slice batching is then
free of per-row Python. Memory is kept near 2x the final arrays on big numeric files: the raw
float32 frame plus the split arrays built from it, nothing in between.
"""
from __future__ import annotations

import os

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from workbench.data.balance import minority_warning
from workbench.data.errors import DataError, listing
from workbench.data.read import ReadInfo, read_table
from workbench.data.schema import Schema, check_finite, infer_schema
from workbench.data.settings import DataSettings
from workbench.data.split import fold_indices, split_indices
from workbench.data.transforms import Preprocessor


@dataclass
class Split:
    x: "torch.Tensor"  # noqa: F821  float32 (N, *input_shape) or int64 tokens (N, T)
    y: "torch.Tensor"  # noqa: F821  int64 (N,) class ids, or float32 (N, k)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class PreparedData:
    task: str                       # "classification" | "regression"
    classes: list[str] | None       # class names in class-id order
    input_shape: tuple[int, ...]    # one sample's shape: (4,), (1, 8, 8), (T,)
    input_dtype: str                # "float32" | "int64"
    cardinality: int | None         # vocabulary size (PAD and OOV included) for tokens
    target_shape: tuple[int, ...]   # () for class ids, (k,) for regression
    train: Split
    val: Split
    test: Split | None
    preprocessor: Preprocessor      # fitted on the train split only
    warnings: list[str] = field(default_factory=list)
    schema: Schema | None = None    # the training file's columns, roles and classes
    fold: int | None = None         # the fold number when made by kfold()
    frame: object | None = None     # the training file's DataFrame, with prepare(keep_frame=True)

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else 0

    @property
    def rows(self) -> int:
        """Training rows (templates size batches and epochs from it)."""
        return len(self.train)

    @property
    def nbytes(self) -> int:
        """Memory the tensors of all splits take."""
        splits = [s for s in (self.train, self.val, self.test) if s is not None]
        return sum(t.numel() * t.element_size() for s in splits for t in (s.x, s.y))

    def to(self, device, if_fits: bool = False, share: float = 0.5) -> "PreparedData":
        """All splits on `device`. if_fits: stay put when the tensors would take more than
        `share` of the accelerator's free memory (the model and activations need the rest);
        the trainer then moves each batch instead."""
        import torch

        device = torch.device(device)
        if if_fits and device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if self.nbytes > share * free:
                return self
        return dataclasses.replace(
            self, train=self.train.to(device), val=self.val.to(device),
            test=None if self.test is None else self.test.to(device))

    def bind(self, graph) -> list[tuple[str, str, object, object]]:
        """Fit the graph's first Input and Target nodes, and the layer feeding the Output, to this
        data, through set_param so that listeners (the canvas, shape inference) see each change.
        Returns the changes made as (node id, parameter, old value, new value), for undo."""
        from workbench.core.spec import INPUT, TARGET

        def first(role):
            return next((n for n in graph.nodes.values() if n.spec and n.spec.role == role), None)

        wanted = []
        node = first(INPUT)
        if node is not None:
            wanted += [(node, "shape", ",".join(map(str, self.input_shape))),
                       (node, "dtype", self.input_dtype),
                       (node, "cardinality", self.cardinality or 0)]
        node = first(TARGET)
        if node is not None:
            classify = self.task == "classification"
            wanted += [(node, "shape", ",".join(map(str, self.target_shape))),
                       (node, "dtype", "int64" if classify else "float32"),
                       (node, "num_classes", self.num_classes)]
        changes = []
        for node, name, value in wanted:
            if node.params.get(name) != value:
                old = graph.set_param(node.id, name, value)
                changes.append((node.id, name, old, value))
        return changes + self._fit_head(graph)

    def _fit_head(self, graph) -> list[tuple[str, str, object, object]]:
        """The layer feeding the first Output gets one output per class (or target column):
        a project made for 4 classes, trained on a 10-class file, fits itself."""
        from workbench.core.spec import OUTPUT
        width = self.num_classes if self.task == "classification" else (
            self.target_shape[0] if self.target_shape else 1)
        out = next((n for n in graph.nodes.values() if n.spec and n.spec.role == OUTPUT), None)
        edge = next((e for e in graph.edges if out is not None and e.dst == out.id), None)
        head = graph.nodes.get(edge.src) if edge is not None else None
        param = head.spec.width_param if head is not None and head.spec else ""
        if not width or not param or head.params.get(param) in (None, width):
            return []
        old = graph.set_param(head.id, param, width)
        return [(head.id, param, old, width)]


def prepare(settings: DataSettings, base_dir=".", keep_frame: bool = False) -> PreparedData:
    """Read the training (and test) file and return tensors split and transformed.

    What was read comes back with them, so a caller that shows the file reads it once:
    `.schema` (columns, roles, classes; `.schema.info` how the file was read) always, and the
    DataFrame itself as `.frame` with keep_frame=True (off by default: training would keep a
    second copy of a big file alive for nothing)."""
    loaded = _load(settings, base_dir)
    train, val, test = _split(loaded, settings)
    data = _build(loaded, settings, train, val, test)
    if keep_frame:
        data.frame = loaded.df
    return data


def kfold(settings: DataSettings, base_dir=".", k: int | None = None) -> Iterator[PreparedData]:
    """k-fold cross-validation: k PreparedData, each validating on another fold, with
    transforms refitted on each fold's training rows. The test rows (a test file, or the
    split.test share) are held out of every fold."""
    k = k or settings.split["kfold"]
    if not isinstance(k, int) or k < 2:
        raise DataError(f"data settings: k-fold needs k of at least 2, not {k!r}")
    loaded = _load(settings, base_dir)
    rest, _, test = _split(loaded, dataclasses.replace(
        settings, split={**settings.split, "val": 0.0}))
    if len(rest) < k:
        raise DataError(f"{k}-fold cross-validation needs at least {k} training rows; "
                        f"there are {len(rest)}", path=settings.path)
    labels = None
    if loaded.labels is not None and settings.split["stratify"]:
        labels = loaded.labels[rest]
    for i, (train, val) in enumerate(fold_indices(rest, k, settings.split["seed"], labels)):
        data = _build(loaded, settings, train, val, test)
        data.fold = i
        yield data


# -- steps ----------------------------------------------------------------------------------

@dataclass
class _Loaded:
    df: object                      # the training file's DataFrame
    info: ReadInfo
    schema: Schema
    rows: np.ndarray | None         # usable rows (target present, nothing dropped); None: all
    labels: np.ndarray | None       # class id per df row (-1 = none), for stratifying
    test_df: object | None
    warnings: list[str]


def _load(settings: DataSettings, base_dir) -> _Loaded:
    settings.validate()
    if not settings.path:
        raise DataError("data settings: no training file chosen")
    df, info = read_table(_resolve(base_dir, settings.path), types=settings.types,
                          display=settings.path)
    schema = infer_schema(df, info, settings, path=_resolve(base_dir, settings.path))
    warnings = list(schema.warnings)
    keep = np.ones(len(df), dtype=bool)
    for t in schema.targets:
        keep &= df[t].notna().to_numpy()
    if not keep.all():
        warnings.append(f"{settings.path}: {int((~keep).sum())} row(s) without a target value "
                        "left out")
    if settings.missing == "drop":
        features = schema.features
        complete = ~df[features].isna().any(axis=1).to_numpy() if features else keep
        dropped = int((keep & ~complete).sum())
        if dropped:
            warnings.append(f"{settings.path}: {dropped} row(s) with missing values dropped "
                            f"(missing = drop)")
        keep &= complete
    # All rows usable (the common case): no index array at all, positions are rows.
    rows = None if keep.all() else np.flatnonzero(keep).astype(np.int64)
    if (len(df) if rows is None else len(rows)) < 2:
        raise DataError(f"only {int(keep.sum())} usable row(s); at least 2 are needed",
                        path=settings.path)
    labels = None
    if schema.task == "classification":
        from workbench.data.keys import keys
        import pandas as pd

        names = [name for name, _ in schema.classes]
        labels = pd.Index(names, dtype=object).get_indexer(keys(df[schema.target]))
    test_df = None
    if settings.test_path:
        test_df, test_info = read_table(_resolve(base_dir, settings.test_path),
                                        types=settings.types, display=settings.test_path)
        warnings += test_info.warnings
        needed = schema.features + schema.targets
        absent = [c for c in needed if c not in test_df.columns]
        if absent:
            raise DataError(f"no column '{absent[0]}' (the training file {settings.path} has "
                            f"it; this file has {listing(test_df.columns)})",
                            path=settings.test_path)
        check_finite(test_df, [c.name for c in schema.columns if c.type == "numeric"
                               and c.role != "ignore"], test_info,
                     _resolve(base_dir, settings.test_path))
    return _Loaded(df, info, schema, rows, labels, test_df, warnings)


def _split(loaded: _Loaded, settings: DataSettings):
    sp = settings.split
    test_ratio = 0.0 if loaded.test_df is not None else sp["test"]
    rows = loaded.rows
    labels = None
    if loaded.labels is not None and sp["stratify"]:
        labels = loaded.labels if rows is None else loaded.labels[rows]
    n = len(loaded.df) if rows is None else len(rows)
    train, val, test = split_indices(n, sp["val"], test_ratio, sp["seed"], labels)
    if rows is None:
        return train, val, test
    return rows[train], rows[val], rows[test]


def _build(loaded: _Loaded, settings: DataSettings, train, val, test) -> PreparedData:
    import torch

    warnings = list(loaded.warnings)
    pre, fit_warnings = Preprocessor.fit(loaded.df, train, loaded.schema, settings)
    warnings += fit_warnings
    if loaded.schema.classes is not None:
        present = set(np.unique(loaded.labels[train]).tolist())
        unseen = [name for i, (name, _) in enumerate(loaded.schema.classes) if i not in present]
        if unseen:
            warnings.append(f"class(es) {listing(unseen)} have no training rows")
        if loaded.labels is not None:
            ids = loaded.labels[train]
            counts = np.bincount(ids[ids >= 0], minlength=len(loaded.schema.classes))
            rare = minority_warning([(name, int(counts[i]))
                                     for i, (name, _) in enumerate(loaded.schema.classes)])
            if rare:
                warnings.append(rare)

    rows = len(train) + len(val) + len(test) + (0 if loaded.test_df is None else len(loaded.test_df))
    _check_fits(pre, rows, settings.path)
    complete = not any(c.missing for c in loaded.schema.columns if c.role == "feature")

    def tensors(df, rows) -> Split:
        x, y = pre.transform_rows(df, rows, complete)
        return Split(torch.from_numpy(x), torch.from_numpy(y))

    splits = {"train": tensors(loaded.df, train), "val": tensors(loaded.df, val)}
    if loaded.test_df is not None:
        x, y = pre.transform(loaded.test_df)
        if y is not None and pre.task == "classification" and (y < 0).any():
            unknown = int((y < 0).sum())
            warnings.append(f"{settings.test_path}: {unknown} row(s) with a class not in the "
                            "training file (or no label) left out")
            x, y = x[y >= 0], y[y >= 0]
        splits["test"] = Split(torch.from_numpy(np.ascontiguousarray(x)),
                               torch.from_numpy(np.ascontiguousarray(y)))
    elif len(test):
        splits["test"] = tensors(loaded.df, test)
    else:
        splits["test"] = None
    return PreparedData(
        task=pre.task, classes=pre.classes, input_shape=pre.input_shape,
        input_dtype=pre.input_dtype, cardinality=pre.cardinality, target_shape=pre.target_shape,
        train=splits["train"], val=splits["val"], test=splits["test"], preprocessor=pre,
        warnings=warnings, schema=loaded.schema)


SIZE_FLOOR = 256 * 1024 ** 2  # tensors smaller than this fit anywhere: no look-up


def _check_fits(pre: Preprocessor, rows: int, path: str) -> None:
    """Refuse, before allocating, tensors that cannot fit: a categorical column with 500,000
    values one-hot encoded over a million rows is 2 TB, and would be OOM-killed with no word."""
    from workbench.core import memory

    width = int(np.prod(pre.input_shape)) if pre.input_shape else 1
    size = 8 if pre.input_dtype == "int64" else 4
    need = rows * width * size
    if need < SIZE_FLOOR:
        return
    free = memory.available()
    if free is None or need <= free:
        return
    onehot = [f for f in pre.spec["features"] if f["type"] == "onehot"]
    widest = max(onehot, key=lambda f: len(f["categories"]), default=None)
    hint = ""
    if widest is not None and len(widest["categories"]) > 100:
        hint = (f"; column '{widest['column']}' one-hot encodes to "
                f"{len(widest['categories']):,} columns: set categorical to index, or ignore it")
    raise DataError(f"the features would take {memory.amount(need)} in memory ({rows:,} rows × "
                    f"{width:,} values); only {memory.amount(free)} is available{hint}", path=path)


def _resolve(base_dir, path: str) -> Path:
    """The data file for a path relative to the project folder. Normalised by name, not by the
    file system, so it works before the project's folder exists (`workbench new`)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(Path(base_dir).absolute() / p))
