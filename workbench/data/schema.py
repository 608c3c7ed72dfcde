"""What each column is (numeric, categorical, text, constant, empty) and what it is for
(feature, target, ignore), with the target's classes — guessed, then overridden by the user.

Guesses are cheap and explainable: a column is numeric when pandas read it as numbers; text
when its values are phrases (three words or more on average); categorical otherwise. Columns
that carry no information (empty, or one value) are ignored with a warning rather than
refused, so an odd column never blocks a user from training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from workbench.data.errors import DataError, listing, show
from workbench.data.keys import keys, sort_keys, value_key
from workbench.data.read import (ReadInfo, first_non_number, line_of_row, read_table,
                                 record_of_row)
from workbench.data.settings import DataSettings

TARGET_NAMES = ("target", "label", "class", "y", "labels", "classes")
# Names a categorical target often has; one with few classes wins over a trailing number
# (penguins: species, island, …, sex, year -> species, not year).
LABEL_WORDS = TARGET_NAMES + ("species", "category", "categories", "section", "genre", "kind",
                              "type", "variety", "outcome", "diagnosis", "sentiment", "topic",
                              "intent", "emotion", "grade", "result", "verdict", "group")
MAX_AUTO_CLASSES = 20   # an integer target with at most this many values is a class id
NUMBER_SHARE = 0.9      # a text column this much made of numbers has a typo, not words
DISTINCT_ROWS = 10_000   # numeric columns count distinct values on this many rows at most
SPLIT_COLUMN = "__split__"  # written by a folder data set, never a feature


@dataclass
class ColumnInfo:
    name: str
    type: str           # numeric | categorical | text | constant | empty
    role: str           # feature | target | ignore
    missing: int
    distinct: int       # for numeric columns of more than 10,000 rows: among the first 10,000
    note: str = ""      # why the role was chosen when it was not the user's choice


@dataclass
class Schema:
    path: str
    info: ReadInfo
    rows: int
    columns: list[ColumnInfo]
    targets: list[str]
    task: str                                   # classification | regression
    classes: list[tuple[str, int]] | None       # (name, rows) in class-id order
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.targets[0]

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature"]

    def column(self, name: str) -> ColumnInfo:
        return next(c for c in self.columns if c.name == name)

    def to_dict(self) -> dict:
        return {
            "path": self.path, "delimiter": self.info.delimiter, "encoding": self.info.encoding,
            "has_header": self.info.has_header, "rows": self.rows,
            "columns": [asdict(c) for c in self.columns], "targets": list(self.targets),
            "task": self.task,
            "classes": None if self.classes is None else [list(c) for c in self.classes],
            "warnings": list(self.warnings),
        }


def inspect(path, target: str | None = None, settings: DataSettings | None = None) -> Schema:
    """Read the whole file and describe it: the `workbench data inspect` command."""
    settings = settings or DataSettings()
    df, info = read_table(path, types=settings.types)
    return infer_schema(df, info, settings, target=target, path=path)


def infer_schema(df, info: ReadInfo, settings: DataSettings | None = None,
                 target: str | None = None, path=None) -> Schema:
    settings = settings or DataSettings()
    path = info.path if path is None else path
    image = settings.image_dims() is not None
    warnings = list(info.warnings)
    columns = [_column(df, name, settings.types.get(name), info, path) for name in df.columns]
    targets, why = guess_target(df, info, settings, target, columns)
    for c in columns:
        role = settings.roles.get(c.name)
        if c.name == SPLIT_COLUMN:
            c.role, c.note = "ignore", "the folder's train/val/test sub-tree"
        elif c.name in targets:
            c.role, c.note = "target", why if c.name == targets[0] else ""
        elif role in ("feature", "ignore"):
            c.role = role
            if role == "feature" and c.type == "empty":
                c.role, c.note = "ignore", "no values"
                warnings.append(f"column '{c.name}' has no values: ignored")
        elif c.type == "empty":
            c.role, c.note = "ignore", "no values"
            warnings.append(f"column '{c.name}' has no values: ignored")
        elif c.type == "constant" and not (image and _is_numeric(df[c.name])):
            value = value_key(df[c.name].dropna().iloc[0])
            c.role, c.note = "ignore", f"one value only ({value})"
            warnings.append(f"column '{c.name}' has one value only ({show(value)}): ignored")
        elif c.type == "categorical" and c.distinct == len(df) - c.missing and c.distinct > 20:
            c.role, c.note = "ignore", "every value differs (an identifier?)"
            warnings.append(f"column '{c.name}' has a different value in every row "
                            "(an identifier?): ignored")
        elif c.type == "numeric" and c.missing == 0 and _index_name(c.name, info) \
                and _row_numbers(df[c.name]):
            c.role, c.note = "ignore", "row numbers (an index?)"
            warnings.append(f"column '{c.name}' counts the rows (0, 1, 2, … — an index written "
                            "with the file?): ignored")
        else:
            c.role = "feature"
    task, classes = _task(df, info, settings, targets, columns, path)
    check_finite(df, [c.name for c in columns if c.type == "numeric" and c.role != "ignore"],
                 info, path)
    if not any(c.role == "feature" for c in columns):
        raise DataError("no feature columns left to learn from (all are the target or ignored)",
                        path=info.path)
    return Schema(info.path, info, len(df), columns, targets, task, classes, warnings)


def _column(df, name: str, override: str | None, info: ReadInfo, path) -> ColumnInfo:
    s = df[name]
    missing = int(s.isna().sum())
    present = len(s) - missing
    if present == 0:
        return ColumnInfo(name, "empty", "", missing, 0)
    numeric = _is_numeric(s)
    if not numeric and override not in ("categorical", "text", "image") and (
            override == "numeric" or _number_share(s.dropna().iloc[:2000]) > 0):
        # Some values read as numbers: all of them (a column read as text because the sample
        # was empty), or most of them (a typo to report). Words only: skip the full scan.
        bad = first_non_number(df, [name], info.decimal)
        if bad is not None and (override == "numeric" or _number_share(s) >= NUMBER_SHARE):
            row, column, value = bad
            raise DataError(f"{show(value)} is not a number", path=info.path,
                            line=line_of_row(path, info, row), column=column, value=value)
        if bad is None and override != "categorical":
            numeric = True  # e.g. a column read as text because the sample was all missing
    distinct = _distinct(s)
    if distinct == 1:
        return ColumnInfo(name, "constant", "", missing, 1)
    if override in ("categorical", "text", "image"):
        kind = override
    elif numeric:
        kind = "numeric"
    elif is_image_column(s):
        kind = "image"
    else:
        kind = "text" if _is_phrases(s, distinct, present) else "categorical"
    return ColumnInfo(name, kind, "", missing, distinct)


def is_image_column(series) -> bool:
    """A text column whose values (a sample of them) all name image files."""
    import pandas as pd

    from workbench.data.image_decode import SUFFIXES

    if series.dtype != object and not pd.api.types.is_string_dtype(series):
        return False
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""].head(200)
    return len(values) > 0 and bool(values.str.lower().str.endswith(SUFFIXES).all())


def _distinct(s) -> int:
    """Distinct values; for a big numeric column counted on its first DISTINCT_ROWS rows only
    (hashing a million floats per column costs more than reading them), after an exact
    min == max test so that a constant column is still found exactly."""
    if _is_numeric(s) and len(s) > DISTINCT_ROWS:
        import numpy as np

        v = s.to_numpy()
        if v.dtype.kind == "f":
            if np.nanmin(v) == np.nanmax(v):
                return 1
        elif v.min() == v.max():
            return 1
        return max(2, int(s.iloc[:DISTINCT_ROWS].nunique(dropna=True)))
    return int(s.nunique(dropna=True))


def guess_type(s) -> str:
    """A column's type from its values alone, never failing (for previews)."""
    present = int(s.notna().sum())
    if present == 0:
        return "empty"
    distinct = int(s.nunique(dropna=True))
    if distinct == 1:
        return "constant"
    if _is_numeric(s):
        return "numeric"
    return "text" if _is_phrases(s, distinct, present) else "categorical"


def _is_numeric(s) -> bool:
    return s.dtype.kind in "fiu"


def _number_share(s) -> float:
    import pandas as pd

    values = s.dropna().astype(str).str.strip()
    return float(pd.to_numeric(values, errors="coerce").notna().mean()) if len(values) else 0.0


def _is_phrases(s, distinct: int, present: int) -> bool:
    values = s.dropna()
    if len(values) > 2000:
        values = values.sample(2000, random_state=0)
    words = values.astype(str).str.split().str.len().mean()
    return bool(words >= 3 or (words >= 2 and distinct > 0.5 * present))


def guess_target(df, info: ReadInfo, settings: DataSettings, target: str | None,
                 columns: list[ColumnInfo]) -> tuple[list[str], str]:
    """(target columns, why) — the one rule for the CLI and the Data panel. `why` is "" when
    the user chose (an argument, settings.target, a role), else the reason for the guess."""
    names = [str(c) for c in df.columns]
    chosen = target or settings.target
    marked = [c for c, r in settings.roles.items() if r == "target" and c in names]
    if chosen:
        if chosen not in names:
            raise DataError(f"no column '{chosen}' to use as the target (columns: "
                            f"{listing(names)})", path=info.path)
        return [chosen] + [c for c in marked if c != chosen], ""
    for c, r in settings.roles.items():
        if r == "target" and c not in names:
            raise DataError(f"no column '{c}' to use as the target (columns: {listing(names)})",
                            path=info.path)
    if marked:
        return marked, ""
    lower = {n.lower(): n for n in reversed(names)}
    for guess in TARGET_NAMES:
        if guess in lower and settings.roles.get(lower[guess]) != "ignore":
            return [lower[guess]], "guessed: named like a target"
    usable = [n for n in names if settings.roles.get(n) not in ("ignore", "feature")]
    if not usable:
        raise DataError("no column left to use as the target", path=info.path)
    by_name = {c.name: c for c in columns}
    present = len(df)
    for name in usable:  # a categorical column with few classes named like a label
        c = by_name[name]
        if c.type == "categorical" and 2 <= c.distinct <= MAX_AUTO_CLASSES \
                and _label_named(name):
            return [name], "guessed: a categorical column named like a label"
    # The last column, unless it cannot be a label: free text, or a different word in every
    # row (a description or an id). Then the last column that can (e.g. `section,description`).

    def label_like(name: str) -> bool:
        c = by_name[name]
        if c.type in ("empty", "constant", "text", "image"):
            return False
        return not (c.type == "categorical" and c.distinct > 20
                    and c.distinct >= 0.9 * (present - c.missing))

    last = by_name[usable[-1]]
    if last.type == "empty" and not _unnamed(last.name, info):
        # a named label column left empty: guessing another column would train on the wrong
        # target without a word
        raise DataError(f"the last column '{last.name}' has no values, so it cannot be the "
                        "target; fill it, or choose the target column", path=info.path)
    likely = [n for n in usable if label_like(n)]
    return [(likely or usable)[-1]], "guessed: the last column that can be a label"


def _label_named(name: str) -> bool:
    """'species', 'Class', 'class_label', 'wine type' — a label word as the name or one of its
    words."""
    import re

    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    return name.lower() in LABEL_WORDS or any(w in LABEL_WORDS for w in words)


def _unnamed(name: str, info: ReadInfo) -> bool:
    """A column without a header name (a trailing delimiter makes one)."""
    import re

    return not info.has_header or re.fullmatch(r"column_\d+", name) is not None


def check_finite(df, columns, info: ReadInfo, path) -> None:
    """Refuse inf / 1e400 (read as inf) in a numeric column, naming the line and the column:
    training would stop at the first step with a NaN loss and no word of where."""
    import numpy as np
    import pandas as pd

    for name in columns:
        s = df[name]
        if s.dtype.kind == "f":
            values = s.to_numpy()
        elif s.dtype.kind in "iub":
            continue
        else:
            text = s.astype(str).str.strip()
            if info.decimal == ",":
                text = text.str.replace(",", ".", regex=False)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isinf(values)
        if bad.any():
            row = int(bad.argmax())
            line, fields = record_of_row(path, info, row)
            j = list(df.columns).index(name)
            raw = fields[j].strip() if j < len(fields) else s.iloc[row]
            raise DataError(f"{show(raw)} is not a finite number; "
                            "fix or remove the value", path=info.path,
                            line=line, column=name, value=raw)


def _task(df, info: ReadInfo, settings: DataSettings, targets: list[str],
          columns: list[ColumnInfo], path):
    import numpy as np

    by_name = {c.name: c for c in columns}
    for t in targets:
        if by_name[t].type == "empty":
            raise DataError(f"the target column '{t}' has no values", path=info.path)
    task = settings.task
    first = df[targets[0]]
    if task == "auto":
        if len(targets) > 1 or by_name[targets[0]].type == "numeric" and not _class_like(first):
            task = "regression"
        elif by_name[targets[0]].type == "constant" and _is_numeric(first) \
                and not float(first.dropna().iloc[0]).is_integer():
            task = "regression"
        else:
            task = "classification"
    if task == "regression":
        for t in targets:
            if not _is_numeric(df[t]):
                bad = first_non_number(df, [t], info.decimal)
                if bad is not None:
                    row, column, value = bad
                    raise DataError(f"{show(value)} is not a number (a regression target "
                                    "needs numbers)", path=info.path,
                                    line=line_of_row(path, info, row), column=column, value=value)
        return "regression", None
    if len(targets) > 1:
        raise DataError(f"classification takes one target column, not {len(targets)} "
                        f"({listing(targets)})", path=info.path)
    names, counts = np.unique(np.array([k for k in keys(first) if k is not None], dtype=object)
                              .astype(str), return_counts=True)
    count = dict(zip(names.tolist(), counts.tolist()))
    ordered = sort_keys(count)
    if len(ordered) < 2:
        only = ordered[0] if ordered else ""
        raise DataError(f"the target column '{targets[0]}' has one class only ({show(only)}); "
                        "classification needs at least 2", path=info.path, column=None)
    return "classification", [(k, int(count[k])) for k in ordered]


INDEX_NAMES = ("", "index", "id", "row", "unnamed: 0")


def _index_name(name: str, info: ReadInfo) -> bool:
    """A header cell left empty (named column_N here) or one that names an index: a column
    of row numbers called `x` may be a real feature (y = 2x + 1), one called `id` is not."""
    import re

    return info.has_header and (name.strip().lower() in INDEX_NAMES
                                or re.fullmatch(r"column_\d+", name) is not None)


def _row_numbers(s) -> bool:
    """0, 1, 2, … or 1, 2, 3, … in file order: the index pandas writes unless told not to."""
    import numpy as np

    v = s.to_numpy()
    if len(v) < 3 or v[0] not in (0, 1):
        return False
    return bool(np.array_equal(v, np.arange(v[0], v[0] + len(v), dtype=v.dtype)))


def _class_like(s) -> bool:
    import numpy as np

    values = s.dropna().to_numpy(dtype=np.float64)
    head = values[:1000]  # a continuous target shows it at once: no need to scan a million
    if not len(values) or not np.all(np.mod(head, 1) == 0) or not np.all(np.mod(values, 1) == 0):
        return False
    return len(np.unique(values)) <= MAX_AUTO_CLASSES
