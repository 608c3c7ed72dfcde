# ---- preprocessing replay: numpy + pandas only (written by Workbench) ----------------------
# Replays the fitted transforms in preprocessing.json (format "workbench-preprocessing",
# version 1, described in Workbench's docs/preprocessing-format.md) on raw rows, exactly as
# Workbench did in training. Nothing is fitted again.
import csv
import json
import os
import re
import stat
import sys

import numpy as np
import pandas as pd

PAD, OOV = 0, 1
DELIMITERS = ",;\t|"


def load_preprocessing(path):
    with open(path, encoding="utf-8") as f:
        pre = json.load(f)
    if pre.get("format") != "workbench-preprocessing" or pre.get("version") not in (1, 2):
        raise SystemExit(f"{path}: not a version 1 or 2 workbench-preprocessing file")
    return pre


def inputs_of(pre):
    """One entry per model input (version 2 lists them; version 1 has one, named x)."""
    if "inputs" in pre:
        return pre["inputs"]
    kind = "text" if pre.get("text") else "table"
    entry = {"name": "x", "kind": kind, **pre["input"]}
    entry.update({"text": pre["text"]} if kind == "text" else {"features": pre["features"]})
    return [entry]


def input_columns(entry):
    if entry["kind"] == "text":
        return list(entry["text"]["columns"])
    if entry["kind"] == "image":
        return [entry["image"]["column"]]
    return [f["column"] for f in entry["features"]]


def _dialect(path, pre):
    """How the file is written: preprocessing.json's "read" entry when present, else a look
    at its first line (delimiter; header = the first line names the training columns)."""
    r = pre.get("read")
    if r:
        return r["delimiter"], r["has_header"], r.get("quoting", True), r.get("encoding", "utf-8"), r.get("decimal", ".")
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        first = f.readline().rstrip("\r\n")
    columns = pre["columns"]
    best = max(DELIMITERS, key=lambda d: first.count(d))
    fields = [c.strip().strip('"') for c in first.split(best)] if best in first else [first]
    has_header = any(c in columns for c in fields) and set(fields) <= set(columns)
    text_form = not has_header and best == "\t" and pre.get("text") is not None
    return best, has_header, not text_form, "utf-8-sig", "."


SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes", " ": "spaces"}


def read_raw(path, pre):
    """A raw file like the training file -> DataFrame named with the training columns; a file
    that cannot be read that way stops with one line naming it (never a traceback)."""
    try:
        return _read_raw(path, pre)
    except FileNotFoundError:
        raise SystemExit(f"error: {path}: no such file") from None
    except OSError as exc:
        raise SystemExit(f"error: {path}: {exc.strerror or exc}") from None
    except pd.errors.EmptyDataError:
        raise SystemExit(f"error: {path}: the file is empty") from None
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:  # ParserError is a ValueError
        delimiter, has_header = _dialect(path, pre)[:2]
        how = f"fields separated by {SEPARATORS.get(delimiter, repr(delimiter))}, " + \
            ("a header row" if has_header else "no header row")
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.replace("Error tokenizing data. C error: ", "")
        raise SystemExit(f"error: {path}: {reason} (read like the training file: {how})") from None


def _read_raw(path, pre):
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, /dev/zero never end
        raise SystemExit(f"error: {path}: not a regular file: only regular files are read")
    delimiter, has_header, quoting, encoding, decimal = _dialect(path, pre)
    needed = _needed_columns(pre)
    tries = _encodings(path)
    for encoding in tries:
        try:
            names = None
            if not has_header and _names_the_columns(path, pre, delimiter, quoting, encoding):
                has_header = True  # a file with a header, where the training file had none
            if has_header:  # named as training named them; a file separated otherwise is read so
                names, other = _header_names(path, needed, delimiter, quoting, encoding)
                if other != delimiter:  # 1,5 can only be a decimal comma where "," is not between fields
                    delimiter, decimal = other, "." if other == "," else ","
            df = _read_as(path, pre, names, delimiter, quoting, encoding, decimal)
            break
        except UnicodeDecodeError:
            if encoding == tries[-1]:
                raise
            if pre.get("read", {}).get("encoding") != "latin-1":
                print(f"note: {path}: not valid UTF-8, read as Latin-1", file=sys.stderr)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        shown = ", ".join(_short(c) for c in list(df.columns)[:8]) + (", ..." if df.shape[1] > 8 else "")
        raise SystemExit(f"error: {path}: no column {_short(missing[0])} (the model was trained "
                         f"with it; this file has {shown})")
    dialect = (delimiter, quoting, encoding, has_header)
    _check_short_rows(path, df, needed, dialect)
    _check_numbers(path, df, pre, dialect)
    return df


def _needed_columns(pre):
    return [c for e in inputs_of(pre) for c in input_columns(e)]


def _encodings(path):
    """The encodings to try, in order: UTF-16 when the file says so (a BOM), else UTF-8 (with
    or without a BOM), then Latin-1, whatever the training file was (Latin-1 reads anything)."""
    with open(path, "rb") as f:
        start = f.read(4)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ["utf-16"]
    return ["utf-8-sig", "latin-1"]


def _first_record(path, delimiter, quoting, encoding):
    csv.field_size_limit(16 * 1024 * 1024)
    with open(path, encoding=encoding, newline="") as f:
        if delimiter == " ":
            return next((line.split() for line in f if line.strip()), [])
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
        return next((r for r in reader if r and r != [""]), [])


def header_names(cells):
    """Workbench's naming rule (data/read.py header_names): stripped, a line break inside a
    quoted name read as a space, an empty name column_<n>, a repeated one .1, .2 ..."""
    names = [re.sub(r"\s*[\r\n]+\s*", " ", c).strip() for c in cells]
    names = [n or f"column_{i + 1}" for i, n in enumerate(names)]
    taken, seen, out = set(names), {}, []
    for name in names:
        k = seen.get(name, 0)
        if k:
            while f"{name}.{k}" in taken:
                k += 1
            taken.add(f"{name}.{k}")
        out.append(f"{name}.{k}" if k else name)
        seen[name] = k + 1
    return out


def _header_names(path, needed, delimiter, quoting, encoding):
    """(column names, delimiter): the training file's delimiter, or another one when only that
    one splits this file's header into the columns the model needs."""
    names = header_names(_first_record(path, delimiter, quoting, encoding))
    if all(c in names for c in needed):
        return names, delimiter
    for other in DELIMITERS:
        if other != delimiter:
            names_other = header_names(_first_record(path, other, True, encoding))
            if all(c in names_other for c in needed):
                print(f"note: {path}: fields separated by {SEPARATORS[other]} (the training file: "
                      f"{SEPARATORS.get(delimiter, repr(delimiter))})", file=sys.stderr)
                return names_other, other
    return names, delimiter


def _names_the_columns(path, pre, delimiter, quoting, encoding):
    """Is the first line of a file read without a header the training columns' names?"""
    first = header_names(_first_record(path, delimiter, quoting, encoding))
    return len(first) > 0 and first == list(pre["columns"])[: len(first)] and \
        all(c in first for c in _needed_columns(pre))


def _records(path, delimiter, quoting, encoding):
    """(line number, fields) of each non-blank record, as pandas splits the file; slow (Python
    per row), so only used to name the line of an error."""
    csv.field_size_limit(16 * 1024 * 1024)
    with open(path, encoding=encoding, newline="") as f:
        if delimiter == " ":
            for number, line in enumerate(f, 1):
                if line.split():
                    yield number, line.split()
            return
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
        start = 1
        for fields in reader:
            if fields and fields != [""]:
                yield start, fields
            start = reader.line_num + 1


def _data_records(path, dialect):
    records = _records(path, *dialect[:3])
    if dialect[3]:
        next(records, None)
    return records


def _line_of(path, dialect, row):
    return next((number for i, (number, _) in enumerate(_data_records(path, dialect)) if i == row), "?")


def _check_short_rows(path, df, needed, dialect):
    """A line with too few fields reads as missing values at its end, which would be filled in
    silently: when a needed column has gaps, find such a line and stop there."""
    if not needed or df.shape[1] < 2:
        return
    width = max(list(df.columns).index(c) for c in needed) + 1
    if not df[list(df.columns)[width - 1]].isna().any():
        return
    for number, fields in _data_records(path, dialect):
        if len(fields) < width:
            raise SystemExit(f"error: {path}: line {number}: {len(fields)} field(s), the "
                             f"model needs column {_short(list(df.columns)[width - 1])} "
                             f"(field {width}): {_short(dialect[0].join(fields))}")


def _read_as(path, pre, names, delimiter, quoting, encoding, decimal):
    kwargs = dict(sep=r"\s+" if delimiter == " " else delimiter, encoding=encoding, dtype=str,
                  keep_default_na=False, na_values=pre.get("missing_tokens", []), decimal=decimal)
    if not quoting:
        kwargs["quoting"] = csv.QUOTE_NONE
    if names is not None:
        df = pd.read_csv(path, header=0, names=names, index_col=False, **kwargs)
    else:
        df = pd.read_csv(path, header=None, **kwargs)
        names = list(pre["columns"])
        df.columns = (names + [f"column_{i + 1}" for i in range(len(names), df.shape[1])])[: df.shape[1]]
    if decimal != ".":  # read as text, so "1,5" must become "1.5" where training read numbers
        for c in _numeric_columns(pre):
            if c in df.columns:
                df[c] = df[c].str.replace(decimal, ".", regex=False)
    return df


def _numeric_columns(pre):
    numeric = [f["column"] for f in pre.get("features", []) if f["type"] == "numeric"]
    if pre["target"]["task"] != "classification":
        numeric += pre["target"]["columns"]
    return numeric


def _check_numbers(path, df, pre, dialect):
    """A numeric feature holding a word or inf stops with the row and column: filled in
    silently, it would give a prediction for a row that was not there."""
    for f in pre.get("features", []):
        if f["type"] != "numeric":
            continue
        text = df[f["column"]]
        v = numbers(text)
        bad = ~np.isfinite(v) & text.notna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise SystemExit(f"error: {path}: line {_line_of(path, dialect, row)}, column "
                             f"{_short(f['column'])}: {_short(text.iloc[row])} is not a finite number")


def _short(text, limit=60):
    text = str(text)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def number_key(x):
    x = float(x)
    if x.is_integer() and abs(x) < 2 ** 53:
        return str(int(x))
    return format(x, ".7g")


def keys(values):
    """Raw cells -> the text keys that name classes and categories (None when missing):
    numbers (and text that reads as a number) in one canonical form, other text as it is."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        try:
            out.append(number_key(float(str(v).strip())))
        except ValueError:
            out.append(str(v))
    return out


def numbers(series):
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def tokenize(text, t):
    if not isinstance(text, str):
        return []  # missing text: no tokens (all padding)
    return re.findall(t.get("pattern", r"\w+"), text.lower() if t.get("lowercase", True) else text)


def encode_text(df, t):
    """(N, max_len) int64 token ids: vocabulary look-up (OOV=1), padded with PAD=0."""
    cols = [df[c].to_numpy(dtype=object) for c in t["columns"]]
    texts = list(cols[0]) if len(cols) == 1 else [
        " ".join(p for p in row if isinstance(p, str)) for row in zip(*cols)]
    index = {w: i for i, w in enumerate(t["vocab"])}
    max_len = int(t["max_len"])
    out = np.full((len(texts), max_len), PAD, dtype=np.int64)
    for row, text in enumerate(texts):
        ids = [index.get(w, OOV) for w in tokenize(text, t)]
        if len(ids) > max_len:
            ids = ids[:max_len] if t["truncate"] == "post" else ids[len(ids) - max_len:]
        if ids:
            if t["pad"] == "pre":
                out[row, max_len - len(ids):] = ids
            else:
                out[row, :len(ids)] = ids
    return out


def encode_features(df, features):
    """(N, width) float32: numbers filled and scaled, categories one-hot or index (0 = none)."""
    parts = []
    for f in features:
        s = df[f["column"]]
        if f["type"] == "numeric":
            v = numbers(s).astype(np.float32)
            v[np.isnan(v)] = np.float32(f["fill"])
            parts.append(((v - np.float32(f["center"])) / np.float32(f["scale"]))[:, None])
        else:
            index = {c: i for i, c in enumerate(f["categories"])}
            codes = np.array([index.get(k, -1) if k is not None else -1 for k in keys(s)], dtype=np.int64)
            if f["type"] == "index":
                parts.append((codes + 1).astype(np.float32)[:, None])
            else:
                block = np.zeros((len(df), len(f["categories"])), dtype=np.float32)
                hit = np.flatnonzero(codes >= 0)
                block[hit, codes[hit]] = 1
                parts.append(block)
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(df), 0), np.float32)


def encode_images(df, entry, base):
    """(N, C, H, W) float32: each file decoded, sized and normalised as in training."""
    spec = entry["image"]
    out = np.zeros((len(df), *entry["shape"]), dtype=np.float32)
    for row, value in enumerate(df[spec["column"]].to_numpy(dtype=object)):
        path = os.path.join(base, str(value))
        try:
            out[row] = load(path, spec)
        except (ImageReadError, FileNotFoundError) as exc:
            raise SystemExit(f"error: {path}: cannot read the image ({exc})") from None
    return out


def transform_inputs(df, pre, base="."):
    """Raw rows -> (one array per model input, y). y is None without the target column;
    -1 marks an unknown class. Image paths are relative to `base`."""
    missing = [c for c in _needed_columns(pre) if c not in df.columns]
    if missing:
        raise SystemExit(f"the data has no column '{missing[0]}' (the model was trained with it)")
    xs = []
    for e in inputs_of(pre):
        if e["kind"] == "text":
            xs.append(encode_text(df, e["text"]))
        elif e["kind"] == "image":
            xs.append(encode_images(df, e, base))
        else:
            xs.append(encode_features(df, e["features"]).reshape((len(df), *e["shape"])))
    return xs, _targets(df, pre)


def transform(df, pre, base="."):
    """Raw rows -> (x, y) for a one-input model (x: a list of arrays for several)."""
    xs, y = transform_inputs(df, pre, base)
    return (xs[0] if len(xs) == 1 else xs), y


def _targets(df, pre):
    target = pre["target"]
    y = None
    if all(c in df.columns for c in target["columns"]):
        if target["task"] == "classification":
            index = {c: i for i, c in enumerate(target["classes"])}
            y = np.array([index.get(k, -1) if k is not None else -1 for k in keys(df[target["columns"][0]])],
                         dtype=np.int64)
        else:
            y = np.stack([numbers(df[c]).astype(np.float32) for c in target["columns"]], axis=1)
    return y


def list_images(folder):
    """A folder of images (class sub-folders or not) as a frame of paths relative to it, with
    the class folder as `label` when every image sits one level down."""
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                paths.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    if not paths:
        raise SystemExit(f"error: {folder}: no image files ({', '.join(SUFFIXES)})")
    return paths


def decode(ids, pre):
    classes = pre["target"]["classes"] or []
    return [classes[int(i)] if 0 <= int(i) < len(classes) else "" for i in np.asarray(ids).reshape(-1)]
# ---- end of preprocessing replay ------------------------------------------------------------
