"""The fitted preprocessing: raw rows in, model-ready arrays out — the same in training, in
the app and in a deployed model.

Everything the transforms learned (means, scales, categories, vocabulary, classes) lives in
one plain dict, `Preprocessor.spec`. That dict is what a project run stores and what an export
bundle writes as preprocessing.json; docs/preprocessing-format.md describes it well enough to
re-implement `transform()` with numpy and pandas alone. Statistics are fitted on the training
rows only, so validation and test scores are honest.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from workbench.data import text as textmod
from workbench.data.errors import DataError, listing, show
from workbench.data.keys import keys, sort_keys
from workbench.data.read import NA_TOKENS

FORMAT, VERSION = "workbench-preprocessing", 1
VERSION_INPUTS = 2  # several inputs, or an image input: the "inputs" list
ONEHOT_WARN = 100  # one-hot columns wider than this get a warning


class Preprocessor:
    """Replays the fitted transforms on raw rows (a DataFrame with the training file's columns)."""

    def __init__(self, spec: dict):
        self.spec = spec
        target = spec["target"]
        self._classes = None if target["classes"] is None else list(target["classes"])
        self._inputs = spec["inputs"] if "inputs" in spec else [_version_1_input(spec)]

    # -- what it produces -----------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.spec["target"]["task"]

    @property
    def classes(self) -> list[str] | None:
        return self._classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The first input's (the only one's, usually)."""
        return tuple(self.inputs[0]["shape"])

    @property
    def input_dtype(self) -> str:
        return self.inputs[0]["dtype"]

    @property
    def cardinality(self) -> int | None:
        return cardinality(self.inputs[0])

    @property
    def target_shape(self) -> tuple[int, ...]:
        return () if self.task == "classification" else (len(self.spec["target"]["columns"]),)

    # -- fitting --------------------------------------------------------------------------
    @property
    def inputs(self) -> list[dict]:
        """One entry per model input, in model input order: name, kind (table | text | image),
        dtype, shape and what the kind needs (features | text | image). A version 1 spec
        (one table or text input) reads as one input named x."""
        return self._inputs

    @classmethod
    def fit(cls, df, rows, schema, settings, base_dir=".") -> tuple["Preprocessor", list[str]]:
        """Learn every transform from the training rows `rows` (positions in df) only.

        Returns the preprocessor and the warnings a user should see (missing values filled,
        columns left out of a text model, very wide one-hot encodings).
        """
        warnings: list[str] = []
        entries = [_fit_input(df, rows, name, cols, kind, settings, warnings, base_dir, schema)
                   for name, cols, kind in input_groups(schema, settings, warnings)]
        info = schema.info
        if schema.task == "classification":
            classes = [name for name, _ in schema.classes]
        else:
            classes = None
        spec = {
            "format": FORMAT, "version": VERSION,
            "columns": [c.name for c in schema.columns],
            "read": {"delimiter": info.delimiter, "has_header": info.has_header,
                     "quoting": info.quoting, "encoding": info.encoding, "decimal": info.decimal},
            "missing_tokens": [""] if info.text_format else list(NA_TOKENS),
        }
        one = entries[0]
        if len(entries) == 1 and one["kind"] != "image" and not settings.inputs:
            # version 1: what every single-table or single-text reader already knows
            spec.update({"input": {"dtype": one["dtype"], "shape": one["shape"]},
                         "features": one.get("features", []), "text": one.get("text")})
        else:
            spec.update({"version": VERSION_INPUTS, "source": getattr(info, "source", "table"),
                         "inputs": entries})
        spec["target"] = {"columns": list(schema.targets), "task": schema.task,
                          "classes": classes}
        return cls(spec), warnings

    # -- applying -------------------------------------------------------------------------
    def transform(self, df, base_dir=None):
        """Raw rows -> (x, y). x is an array, or a tuple of arrays for several inputs. y is
        None when the target column is absent (prediction); y holds -1 for a class not seen in
        training or a missing label, NaN for a missing number. Image paths are resolved
        against base_dir (the data file's folder)."""
        needed = [c for e in self.inputs for c in input_columns(e)]
        absent = [c for c in needed if c not in df.columns]
        if absent:
            raise DataError(f"no column '{absent[0]}' (the model was trained with it; the data "
                            f"has {listing(df.columns)})")
        return self.transform_rows(df, None, base_dir=base_dir)

    def transform_rows(self, df, rows=None, complete: bool = False, base_dir=None):
        """transform() of df's rows at positions `rows` (None = all), without building a
        sub-frame: prepare() calls this once per split on the whole file's frame.
        complete=True promises that the feature columns hold no missing value (the schema
        counted them), which skips looking for NaN."""
        xs, y, _ = self.transform_split(df, rows, complete, base_dir)
        return (xs[0] if len(xs) == 1 else xs), y

    def transform_split(self, df, rows=None, complete: bool = False, base_dir=None,
                        stream: bool = False, corrupt: str = "refuse"):
        """(inputs as a tuple, y, bad): bad lists the positions (in rows) of images that could
        not be read and were zero-filled (corrupt="skip"; the caller leaves them out).
        stream=True: image inputs stay on disk, as StreamedImages decoded batch by batch."""
        n = len(df) if rows is None else len(rows)
        xs, bad = [], []
        for e in self.inputs:
            if e["kind"] == "text":
                x = self._tokens(df, rows, e["text"])
            elif e["kind"] == "image":
                x, missed = _images(df, rows, e, base_dir, stream, corrupt)
                bad += missed
            else:
                x = self._block(df, rows, e["features"], complete)
                if x is None:
                    x = self._columns(df, rows, n, e)
                x = x.reshape((n, *e["shape"]))
            xs.append(x)
        return tuple(xs), self._target(df, rows), sorted(set(bad))

    def decode(self, class_ids) -> list[str]:
        """Class ids -> class names."""
        if self._classes is None:
            raise DataError("this model predicts numbers, not classes: nothing to decode")
        ids = np.asarray(class_ids.cpu() if hasattr(class_ids, "cpu") else class_ids).reshape(-1)
        return [self._classes[int(i)] if 0 <= int(i) < len(self._classes) else "" for i in ids]

    # -- serialising ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return copy.deepcopy(self.spec)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessor":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"preprocessing: not a {FORMAT} description")
        if d.get("version") not in (VERSION, VERSION_INPUTS):
            raise DataError(f"preprocessing: version {d.get('version')!r} is not supported "
                            f"(this Workbench reads versions {VERSION} and {VERSION_INPUTS})")
        keys_needed = ("columns", "input", "features", "text", "target") if \
            d.get("version") == VERSION else ("columns", "inputs", "target")
        for key in keys_needed:
            if key not in d:
                raise DataError(f"preprocessing: the key '{key}' is missing")
        pre = cls(copy.deepcopy(d))
        for e in pre.inputs:
            if e.get("kind") not in ("table", "text", "image"):
                raise DataError(f"preprocessing: unknown input kind {e.get('kind')!r}")
            for f in e.get("features", []):
                if f.get("type") not in ("numeric", "onehot", "index"):
                    raise DataError(f"preprocessing: unknown feature type {f.get('type')!r}")
        return pre

    # -- internals ------------------------------------------------------------------------
    def _block(self, df, rows, feats, complete: bool = False):
        """Fast path: all features numeric and the frame one float32 block (a big numeric
        file): gather rows and columns in one numpy call, then scale in place."""
        if not feats or any(f["type"] != "numeric" for f in feats):
            return None
        if not all(dt == np.float32 for dt in df.dtypes) or df.columns.has_duplicates:
            return None
        a = df.to_numpy(dtype=np.float32, copy=False)  # (N, all columns); a view when possible
        pos = [df.columns.get_loc(f["column"]) for f in feats]
        if rows is None:
            rows = slice(None)
        if pos == list(range(pos[0], pos[0] + len(pos))):
            x = a[rows, pos[0]: pos[0] + len(pos)]
        else:
            x = a[rows][:, pos] if isinstance(rows, slice) else a[np.ix_(rows, pos)]
        x = np.array(x, dtype=np.float32, order="C", copy=not _owns(x, a))
        fill = np.array([f["fill"] for f in feats], dtype=np.float32)
        center = np.array([f["center"] for f in feats], dtype=np.float32)
        scale = np.array([f["scale"] for f in feats], dtype=np.float32)
        # Columns holding NaN, found without an (N, F) mask: a NaN makes its column sum NaN.
        for j in [] if complete else np.flatnonzero(np.isnan(x.sum(axis=0))):
            col = x[:, j]
            col[np.isnan(col)] = fill[j]
        x -= center
        x /= scale
        return x

    def _columns(self, df, rows, n: int, entry: dict) -> np.ndarray:
        width = int(np.prod(entry["shape"]))
        out = np.empty((n, width), dtype=np.float32)
        j = 0
        for f in entry["features"]:
            s = _take(df[f["column"]], rows)
            if f["type"] == "numeric":
                v = _numbers(s, f["column"]).astype(np.float32)
                v[np.isnan(v)] = np.float32(f["fill"])
                out[:, j] = (v - np.float32(f["center"])) / np.float32(f["scale"])
                j += 1
            else:
                import pandas as pd

                codes = pd.Index(f["categories"], dtype=object).get_indexer(keys(s))
                if f["type"] == "index":
                    out[:, j] = codes + 1  # 0 = missing or unseen category
                    j += 1
                else:
                    k = len(f["categories"])
                    out[:, j: j + k] = 0
                    hit = np.flatnonzero(codes >= 0)
                    out[hit, j + codes[hit]] = 1
                    j += k
        return out

    def _tokens(self, df, rows, t: dict) -> np.ndarray:
        texts = _joined(df, t["columns"], rows)
        tokens = [textmod.tokenize(s, t["lowercase"]) for s in texts]
        return textmod.encode(tokens, t["vocab"], t["max_len"], t["pad"], t["truncate"])

    def _target(self, df, rows):
        target = self.spec["target"]
        if not all(c in df.columns for c in target["columns"]):
            return None
        if target["task"] == "classification":
            import pandas as pd

            s = _take(df[target["columns"][0]], rows)
            return pd.Index(self._classes, dtype=object).get_indexer(keys(s)).astype(np.int64)
        cols = [_numbers(_take(df[c], rows), c).astype(np.float32) for c in target["columns"]]
        return np.stack(cols, axis=1)


def _version_1_input(spec: dict) -> dict:
    """A version 1 spec's one input as an entry of the version 2 list."""
    kind = "text" if spec["text"] is not None else "table"
    entry = {"name": "x", "kind": kind, **spec["input"]}
    entry.update({"text": spec["text"]} if kind == "text" else {"features": spec["features"]})
    return entry


def cardinality(entry: dict) -> int | None:
    """Vocabulary size (PAD and OOV included) of a text input; None for others."""
    return len(entry["text"]["vocab"]) if entry["kind"] == "text" else None


def input_columns(entry: dict) -> list[str]:
    """The raw columns one input reads."""
    if entry["kind"] == "text":
        return list(entry["text"]["columns"])
    if entry["kind"] == "image":
        return [entry["image"]["column"]]
    return [f["column"] for f in entry["features"]]


def input_groups(schema, settings, warnings: list[str]) -> list[tuple[str, list[str], str]]:
    """(name, columns, kind) per model input. No groups chosen: one input of every feature
    column (a text model reads its text columns only, as it always has); else the user's
    groups, each of one kind, checked against the file's columns."""
    features = [c for c in schema.columns if c.role == "feature"]
    kinds = {"text": "text", "image": "image"}
    if not settings.inputs:
        for kind in ("image", "text"):
            cols = [c.name for c in features if c.type == kind]
            if not cols:
                continue
            if kind == "image" and len(cols) > 1:
                raise DataError(f"columns {listing(cols)} both hold image paths; one input "
                                "reads one image column: make an input group for each")
            others = [c.name for c in features if c.type != kind]
            if others:
                model = "an image model reads the image" if kind == "image" else \
                    "a text model reads the text"
                warnings.append(f"column(s) {listing(others)} not used: {model} only (group "
                                "the columns into several inputs to use them)")
            return [("x", cols, kind)]
        return [("x", [c.name for c in features], "table")]
    by_name = {c.name: c for c in schema.columns}
    groups, used = [], set()
    for g in settings.inputs:
        absent = [c for c in g["columns"] if c not in by_name]
        if absent:
            raise DataError(f"input '{g['name']}': no column '{absent[0]}' in the data "
                            f"(columns: {listing(list(by_name))})")
        not_features = [c for c in g["columns"] if by_name[c].role != "feature"]
        if not_features:
            raise DataError(f"input '{g['name']}': column '{not_features[0]}' is "
                            f"{by_name[not_features[0]].role}d, not a feature"
                            if by_name[not_features[0]].role != "target" else
                            f"input '{g['name']}': column '{not_features[0]}' is the target")
        found = {kinds.get(by_name[c].type, "table") for c in g["columns"]}
        if len(found) > 1:
            raise DataError(f"input '{g['name']}' mixes {' and '.join(sorted(found))} columns; "
                            "an input is numbers and categories, text, or one image column")
        kind = found.pop()
        if kind == "image" and len(g["columns"]) > 1:
            raise DataError(f"input '{g['name']}' has {len(g['columns'])} image columns; "
                            "an image input reads one")
        groups.append((g["name"], list(g["columns"]), kind))
        used.update(g["columns"])
    left = [c.name for c in features if c.name not in used]
    if left:
        warnings.append(f"column(s) {listing(left)} in no input: not used")
    return groups


def _fit_input(df, rows, name, columns, kind, settings, warnings, base_dir, schema) -> dict:
    if kind == "text":
        t = _fit_text(df, rows, columns, settings.text)
        return {"name": name, "kind": "text", "dtype": "int64", "shape": [t["max_len"]],
                "text": t}
    if kind == "image":
        from workbench.data import images

        spec = images.fit_image(df, rows, columns[0], base_dir, settings)
        channels = len(spec["mean"])
        return {"name": name, "kind": "image", "dtype": "float32",
                "shape": [channels, *spec["size"]], "image": spec}
    by_name = {c.name: c for c in schema.columns}
    feats = [_fit_column(df, rows, by_name[c], settings, warnings) for c in columns]
    width = sum(len(f["categories"]) if f["type"] == "onehot" else 1 for f in feats)
    image = settings.image_dims() if not settings.inputs else None
    if image is not None and int(np.prod(image)) != width:
        raise DataError(f"data settings: image_shape {','.join(map(str, image))} needs "
                        f"{int(np.prod(image))} features, the data has {width}")
    shape = list(image) if image is not None else [width]
    return {"name": name, "kind": "table", "dtype": "float32", "shape": shape, "features": feats}


def _images(df, rows, entry, base_dir, stream: bool, corrupt: str):
    """An image input's array (decoded now), or its StreamedImages (decoded per batch)."""
    from workbench.data import images

    column, spec = entry["image"]["column"], entry["image"]
    if stream:
        from workbench.data.streaming import StreamedImages

        base = Path(os.path.abspath(base_dir or "."))
        values = _take(df[column], rows).tolist()
        return StreamedImages([str(images.resolve(v, base)) for v in values], spec), []
    rows = range(len(df)) if rows is None else rows
    x, bad = images.decode_rows(df, rows, column, base_dir, spec, corrupt,
                                display=Path(base_dir or ".").name)
    if not bad:
        return x, []
    # zero rows where the unreadable images were, so every input and y stay aligned until
    # the caller leaves those rows out of all of them
    left = set(bad)
    missed = [i for i, r in enumerate(rows) if r in left]
    full = np.zeros((len(rows), *x.shape[1:]), dtype=np.float32)
    full[np.setdiff1d(np.arange(len(rows)), missed)] = x.numpy()
    return full, missed


def _fit_column(df, rows, c, settings, warnings: list[str]) -> dict:
    column = df[c.name]
    if c.type in ("numeric", "constant", "empty") and (c.type == "numeric" or
                                                       column.dtype.kind in "fiu"):
        if column.dtype.kind == "f":  # float32 from the reader: gather without converting
            v = column.to_numpy()
            v = v if rows is None else v[rows]
        else:
            v = _numbers(_take(column, rows), c.name)
        present = v[~np.isnan(v)] if c.missing else v
        empty = len(present) == 0
        mean = 0.0 if empty else float(present.mean(dtype=np.float64))
        if settings.missing == "median":
            fill = 0.0 if empty else float(np.median(present))
        else:
            fill = float(settings.fill_value) if settings.missing == "constant" else mean
        if empty or settings.numeric == "none":
            center, scale = 0.0, 1.0
        elif settings.numeric == "standardize":
            center, scale = mean, float(present.std(dtype=np.float64))
        else:
            lo = float(present.min())
            center, scale = lo, float(present.max()) - lo
        if not scale > 0 or not np.isfinite(scale):
            scale = 1.0
        if c.missing and settings.missing != "drop":
            how = {"mean": "the training mean", "median": "the training median",
                   "constant": "the constant"}[settings.missing]
            warnings.append(f"column '{c.name}': {c.missing} missing value(s) filled with {how} "
                            f"({fill:.6g})")
        return {"column": c.name, "type": "numeric", "fill": fill, "center": center, "scale": scale}
    s = _take(column, rows)
    names = sort_keys({k for k in keys(s) if k is not None})
    if c.missing:
        warnings.append(f"column '{c.name}': {c.missing} missing value(s) encoded as "
                        "'no category'")
    if settings.categorical == "onehot" and len(names) > ONEHOT_WARN:
        warnings.append(f"column '{c.name}' one-hot encodes to {len(names)} columns; consider "
                        "categorical = index")
    return {"column": c.name, "type": settings.categorical, "categories": names}


def _fit_text(df, rows, columns: list[str], options: dict) -> dict:
    texts = _joined(df, columns, rows)
    tokens = [textmod.tokenize(s, options["lowercase"]) for s in texts]
    vocab = textmod.build_vocab(tokens, options["min_freq"], options["max_vocab"])
    max_len = options["max_len"] or textmod.auto_length(tokens)
    return {"columns": list(columns), "lowercase": options["lowercase"],
            "pattern": textmod.TOKEN_PATTERN, "vocab": vocab, "max_len": int(max_len),
            "pad": options["pad"], "truncate": options["truncate"]}


def _joined(df, columns: list[str], rows) -> list:
    """The text of each row; several text columns are joined with a space."""
    parts = [_take(df[c], rows).to_numpy(dtype=object) for c in columns]
    if len(parts) == 1:
        return list(parts[0])
    return [" ".join(p for p in row if isinstance(p, str)) for row in zip(*parts)]


def _take(series, rows):
    return series if rows is None else series.iloc[rows]


def _numbers(s, name: str) -> np.ndarray:
    """A column as float64 numbers; text that is not a number (and not a missing token) fails."""
    import pandas as pd

    if s.dtype.kind in "fiub":
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    text = s.astype(object).where(s.notna(), None)
    stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    stripped = stripped.where(~stripped.isin(NA_TOKENS), None)
    v = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(v) & stripped.notna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{show(text.iloc[i])} is not a number (row {i + 1})", column=name,
                        value=text.iloc[i])
    return v


def _owns(x: np.ndarray, a: np.ndarray) -> bool:
    """True when x is already a fresh array (fancy indexing copies), not a view of a."""
    return not np.may_share_memory(x, a) and x.flags.c_contiguous and x.flags.writeable
