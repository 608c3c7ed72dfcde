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
from workbench.data.schema import SPLIT_COLUMN, Schema, check_finite, infer_schema
from workbench.data.settings import DataSettings
from workbench.data.split import fold_indices, split_indices
from workbench.data.transforms import Preprocessor, cardinality


class Split:
    """One split's inputs and targets. `xs` holds one entry per model input: a tensor
    (float32 (N, *shape) or int64 tokens (N, T)), or StreamedImages for images decoded batch by
    batch; `y` int64 (N,) class ids or float32 (N, k)."""

    def __init__(self, x, y):
        self.xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
        self.y = y

    @property
    def x(self):
        """The input of a one-input split (most code and every test of one)."""
        if len(self.xs) != 1:
            raise ValueError(f"this split has {len(self.xs)} inputs: use .xs")
        return self.xs[0]

    @property
    def streamed(self) -> bool:
        import torch

        return not all(isinstance(x, torch.Tensor) for x in self.xs)

    @property
    def device(self):
        import torch

        return self.y.device if self.streamed else self.xs[0].device if self.xs else \
            torch.device("cpu")

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device) -> "Split":
        import torch

        return Split(tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in self.xs),
                     self.y.to(device))


@dataclass
class InputInfo:
    name: str                       # the Input node it feeds (by its name parameter)
    kind: str                       # table | text | image
    shape: tuple[int, ...]          # one sample's shape
    dtype: str                      # float32 | int64
    cardinality: int | None         # vocabulary size of a text input


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
    inputs: list[InputInfo] = field(default_factory=list)  # every model input, in order
    # each split's rows as positions in the training file (test: None for a separate file)
    split_rows: dict = field(default_factory=dict)

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
        from workbench.core.spec import TARGET

        def first(role):
            return next((n for n in graph.nodes.values() if n.spec and n.spec.role == role), None)

        wanted = []
        for info, node in self.input_nodes(graph):
            wanted += [(node, "shape", ",".join(map(str, info.shape))),
                       (node, "dtype", info.dtype),
                       (node, "cardinality", info.cardinality or 0)]
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

    def input_nodes(self, graph) -> list[tuple[InputInfo, object]]:
        """(input, the Input node it feeds). One input feeds the graph's first Input node;
        several feed the Input nodes named like them (an Input with no data is left alone:
        training says so)."""
        from workbench.core.spec import INPUT

        nodes = [n for n in graph.nodes.values() if n.spec and n.spec.role == INPUT]
        infos = self.inputs or [InputInfo("x", "table", tuple(self.input_shape),
                                          self.input_dtype, self.cardinality)]
        if len(infos) == 1 and len(nodes) <= 1:
            return [(infos[0], nodes[0])] if nodes else []
        by_name = {str(n.params.get("name", "")): n for n in nodes}
        return [(info, by_name[info.name]) for info in infos if info.name in by_name]

    def arranged(self, node_names: list[str]) -> "PreparedData":
        """The splits with their inputs in the compiled model's order. node_names: the
        Input nodes' name parameters, in that order. Raises DataError for an Input the data
        does not feed."""
        if len(node_names) == 1 and len(self.train.xs) == 1:
            return self
        names = [i.name for i in self.inputs]
        missing = [n for n in node_names if n not in names]
        if missing:
            have = ", ".join(f"'{n}'" for n in names) if len(names) > 1 else "one input"
            raise DataError(f"the Input '{missing[0]}' has no data: the data has {have}; name "
                            "each Input after an input group in the Data panel")
        order = [names.index(n) for n in node_names]
        if order == list(range(len(names))):
            return self

        def pick(split):
            return None if split is None else Split(tuple(split.xs[i] for i in order), split.y)

        return dataclasses.replace(self, train=pick(self.train), val=pick(self.val),
                                   test=pick(self.test),
                                   inputs=[self.inputs[i] for i in order])

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
    base: str = "."                 # image paths are relative to this folder
    test_base: str = "."


def _load(settings: DataSettings, base_dir) -> _Loaded:
    settings.validate()
    if not settings.path:
        raise DataError("data settings: no training file chosen")
    df, info = read_source(_resolve(base_dir, settings.path), settings, settings.path)
    schema = infer_schema(df, info, settings, path=_resolve(base_dir, settings.path))
    base = _base_of(_resolve(base_dir, settings.path))
    _check_images(df, schema, base, info)
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
        test_df, test_info = read_source(_resolve(base_dir, settings.test_path), settings,
                                         settings.test_path)
        _check_images(test_df, schema, _base_of(_resolve(base_dir, settings.test_path)),
                      test_info)
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
    test_base = _base_of(_resolve(base_dir, settings.test_path)) if settings.test_path else base
    return _Loaded(df, info, schema, rows, labels, test_df, warnings, base, test_base)


def read_source(path: Path, settings: DataSettings, display: str):
    """(DataFrame, ReadInfo) of a data file, or of a folder of class sub-folders of images
    (columns image, label and, with train/val/test sub-trees, __split__)."""
    if path.is_dir():
        from workbench.data import images

        df, folder = images.folder_frame(path, display)
        info = ReadInfo(display, ",", "utf-8", True, rows=len(df), warnings=list(folder.warnings),
                        columns=list(df.columns), source="folder")
        return df, info
    return read_table(path, types=settings.types, display=display)


def _base_of(path: Path) -> str:
    """The folder image paths are relative to: a folder data set's own, a file's folder."""
    return str(path if path.is_dir() else path.parent)


def _check_images(df, schema: Schema, base: str, info: ReadInfo) -> None:
    """Every image file a used image column names exists, before anything is fitted."""
    columns = [c.name for c in schema.columns if c.type == "image" and c.role == "feature"]
    if columns:
        from workbench.data import images

        for column in columns:
            if column in df.columns:
                images.check_files(df, column, base, info.path, info)


def _split(loaded: _Loaded, settings: DataSettings):
    sp = settings.split
    test_ratio = 0.0 if loaded.test_df is not None else sp["test"]
    rows = loaded.rows
    labels = None
    if loaded.labels is not None and sp["stratify"]:
        labels = loaded.labels if rows is None else loaded.labels[rows]
    if SPLIT_COLUMN in loaded.df.columns:
        return _given_split(loaded, settings, test_ratio, labels)
    n = len(loaded.df) if rows is None else len(rows)
    train, val, test = split_indices(n, sp["val"], test_ratio, sp["seed"], labels)
    if rows is None:
        return train, val, test
    return rows[train], rows[val], rows[test]


def _given_split(loaded: _Loaded, settings: DataSettings, test_ratio: float, labels):
    """A folder with train/val/test sub-trees: its val and test rows are those splits; a
    split it lacks is drawn from its train rows as the settings say."""
    sp = settings.split
    usable = np.arange(len(loaded.df)) if loaded.rows is None else loaded.rows
    tag = loaded.df[SPLIT_COLUMN].to_numpy(dtype=object)[usable]
    given_val, given_test = usable[tag == "val"], usable[tag == "test"]
    in_pool = (tag != "val") & (tag != "test")
    pool = usable[in_pool]
    train, val, test = split_indices(
        len(pool), 0.0 if len(given_val) else sp["val"],
        0.0 if len(given_test) else test_ratio, sp["seed"],
        None if labels is None else labels[in_pool])
    return (pool[train], np.concatenate([given_val, pool[val]]).astype(np.int64),
            np.concatenate([given_test, pool[test]]).astype(np.int64))


def _build(loaded: _Loaded, settings: DataSettings, train, val, test) -> PreparedData:
    import torch

    warnings = list(loaded.warnings)
    pre, fit_warnings = Preprocessor.fit(loaded.df, train, loaded.schema, settings, loaded.base)
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
    stream = _streams(pre, rows, settings)
    corrupt = settings.image["corrupt"]
    base = loaded.base
    unreadable: list[str] = []
    kept: dict = {}

    def tensors(df, rows, base_dir, keep_unknown=True, name="") -> Split:
        xs, y, bad = pre.transform_split(df, rows, complete, base_dir, stream, corrupt)
        keep = np.ones(len(y), dtype=bool)
        if bad:
            keep[bad] = False
            column = next(e["image"]["column"] for e in pre.inputs if e["kind"] == "image")
            unreadable.extend(str(v) for v in np.asarray(
                df[column].to_numpy() if rows is None else df[column].to_numpy()[rows])[bad])
        if not keep_unknown and y is not None and pre.task == "classification":
            keep &= y >= 0
        if not keep.all():
            xs = tuple(_rows_of(x, keep) for x in xs)
            y = y[keep]
        kept[name] = None if rows is None else np.asarray(rows)[keep]
        return Split(tuple(_tensor(x) for x in xs), torch.from_numpy(np.ascontiguousarray(y)))

    splits = {"train": tensors(loaded.df, train, base, name="train"),
              "val": tensors(loaded.df, val, base, name="val")}
    if loaded.test_df is not None:
        y = pre._target(loaded.test_df, None)
        unknown = 0 if y is None or pre.task != "classification" else int((y < 0).sum())
        if unknown:
            warnings.append(f"{settings.test_path}: {unknown} row(s) with a class not in the "
                            "training file (or no label) left out")
        splits["test"] = tensors(loaded.test_df, None, loaded.test_base, keep_unknown=False,
                                 name="test")
    elif len(test):
        splits["test"] = tensors(loaded.df, test, base, name="test")
    else:
        splits["test"] = None
    if unreadable:
        shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more"
                                             if len(unreadable) > 3 else "")
        warnings.append(f"{len(unreadable)} image(s) could not be read and were left out: "
                        f"{shown}")
    inputs = [InputInfo(e["name"], e["kind"], tuple(e["shape"]), e["dtype"], cardinality(e))
              for e in pre.inputs]
    return PreparedData(
        task=pre.task, classes=pre.classes, input_shape=pre.input_shape,
        input_dtype=pre.input_dtype, cardinality=pre.cardinality, target_shape=pre.target_shape,
        train=splits["train"], val=splits["val"], test=splits["test"], preprocessor=pre,
        warnings=warnings, schema=loaded.schema, inputs=inputs, split_rows=kept)


def _rows_of(x, keep: np.ndarray):
    """The kept rows of an input: an array's, or a StreamedImages' paths."""
    if isinstance(x, np.ndarray) or hasattr(x, "numpy"):
        return x[keep]
    from workbench.data.streaming import StreamedImages

    return StreamedImages([p for p, k in zip(x.paths, keep) if k], x.spec)


def _tensor(x):
    """A numpy input as a tensor; StreamedImages stay as they are."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x


def _streams(pre: Preprocessor, rows: int, settings: DataSettings) -> bool:
    """Image inputs decoded batch by batch (a DataLoader) rather than cached as tensors:
    when chosen, or (auto) when the decoded images would not fit the memory budget."""
    entries = [e for e in pre.inputs if e["kind"] == "image"]
    if not entries:
        return False
    from workbench.data import images

    return any(images.should_stream(rows, e["image"], settings.image["cache"]) for e in entries)


SIZE_FLOOR = 256 * 1024 ** 2  # tensors smaller than this fit anywhere: no look-up


def _check_fits(pre: Preprocessor, rows: int, path: str) -> None:
    """Refuse, before allocating, tensors that cannot fit: a categorical column with 500,000
    values one-hot encoded over a million rows is 2 TB, and would be OOM-killed with no word."""
    from workbench.core import memory

    tables = [e for e in pre.inputs if e["kind"] != "image"]  # images: cached or streamed
    width = sum(int(np.prod(e["shape"])) for e in tables)
    need = rows * sum(int(np.prod(e["shape"])) * (8 if e["dtype"] == "int64" else 4)
                      for e in tables)
    if need < SIZE_FLOOR:
        return
    free = memory.available()
    if free is None or need <= free:
        return
    onehot = [f for e in tables for f in e.get("features", []) if f["type"] == "onehot"]
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
