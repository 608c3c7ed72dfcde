# ---- preprocessing replay: numpy + pandas only (written by Workbench) ----------------------
# Replays the fitted transforms stored in preprocessing.json on raw rows, exactly as Workbench
# did during training (see Workbench's docs/preprocessing-format.md). Nothing is re-fitted.
import json

import numpy as np
import pandas as pd

NA_TOKENS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?"]
PAD, OOV = 0, 1


def load_preprocessing(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_raw(path, pre):
    """Read a raw file the way the training file was read (delimiter, header, quoting)."""
    r = pre.get("read", {})
    delimiter = r.get("delimiter", ",")
    kwargs = dict(encoding=r.get("encoding", "utf-8"), keep_default_na=False,
                  na_values=r.get("na_values", NA_TOKENS), decimal=r.get("decimal", "."))
    if delimiter == " ":
        kwargs["sep"] = r"\s+"
    else:
        kwargs["sep"] = delimiter
    if not r.get("quoting", True):
        kwargs["quoting"] = 3  # csv.QUOTE_NONE
    names = r.get("columns") or None
    if r.get("has_header", True):
        df = pd.read_csv(path, header=0, dtype=str, **kwargs)
        df.columns = [str(c) for c in df.columns]
    else:
        df = pd.read_csv(path, header=None, dtype=str, **kwargs)
        width = df.shape[1]
        names = list(names or [])
        df.columns = (names + [f"column_{i + 1}" for i in range(len(names), width)])[:width]
    return df


def number_key(x):
    x = float(x)
    if x.is_integer() and abs(x) < 2 ** 53:
        return str(int(x))
    return format(x, ".7g")


def keys(values):
    """Raw cells -> the text keys that name classes and categories (None when missing)."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
            continue
        s = str(v)
        try:
            out.append(number_key(float(s.strip())))
        except ValueError:
            out.append(s)
    return out


def _numbers(series):
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def _numeric(df, col):
    v = _numbers(df[col["name"]]) if col["name"] in df else np.full(len(df), np.nan)
    fill = col.get("fill")
    v = np.where(np.isnan(v), np.nan if fill is None else fill, v)
    method = col.get("method", "none")
    if method == "standardize":
        v = (v - col["mean"]) / (col["std"] or 1.0)
    elif method == "minmax":
        span = (col["max"] - col["min"]) or 1.0
        v = (v - col["min"]) / span
    return v[:, None]


def _categorical(df, col):
    cats = col["categories"]
    index = {c: i for i, c in enumerate(cats)}
    raw = keys(df[col["name"]]) if col["name"] in df else [None] * len(df)
    fill = col.get("fill")
    ids = np.array([index.get(k if k is not None else fill, -1) for k in raw], dtype=np.int64)
    if col.get("method", "onehot") == "index":
        return (ids + 1).astype(np.float64)[:, None]  # 0 = unknown
    out = np.zeros((len(df), len(cats)))
    ok = ids >= 0
    out[np.nonzero(ok)[0], ids[ok]] = 1.0
    return out


def tokenize(text, t):
    import re
    if not isinstance(text, str):
        return []  # missing text: no tokens (all padding)
    if t.get("lowercase", True):
        text = text.lower()
    return re.findall(t.get("pattern", r"\w+"), text)


def _text(df, col):
    t = col
    vocab = {w: i for i, w in enumerate(t["vocab"])}
    max_len = int(t["max_len"])
    out = np.full((len(df), max_len), PAD, dtype=np.int64)
    for r, text in enumerate(df[t["name"]].tolist()):
        ids = [vocab.get(w, OOV) for w in tokenize(text, t)]
        ids = ids[:max_len] if t.get("truncate", "post") == "post" else ids[-max_len:]
        if ids:
            if t.get("pad", "pre") == "pre":
                out[r, max_len - len(ids):] = ids
            else:
                out[r, :len(ids)] = ids
    return out


def transform(df, pre):
    """Raw DataFrame -> (x, y): x float32 (or int64 token ids), y class ids / numbers or None."""
    parts, dtype = [], np.float32
    for col in pre["features"]:
        kind = col["type"]
        if kind == "numeric":
            parts.append(_numeric(df, col))
        elif kind == "categorical":
            parts.append(_categorical(df, col))
        elif kind == "text":
            parts.append(_text(df, col))
            dtype = np.int64
    x = np.concatenate(parts, axis=1).astype(dtype) if parts else np.zeros((len(df), 0), dtype)
    shape = pre.get("input_shape")
    if shape and len(shape) > 1:
        x = x.reshape((len(df), *shape))
    target = pre.get("target")
    y = None
    if target and target in df:
        if pre.get("task") == "classification":
            index = {c: i for i, c in enumerate(pre["classes"])}
            y = np.array([index.get(k, -1) for k in keys(df[target])], dtype=np.int64)
        else:
            y = _numbers(df[target]).astype(np.float32)
    return x, y


def decode(ids, pre):
    classes = pre.get("classes") or []
    return [classes[i] if 0 <= i < len(classes) else str(i) for i in np.asarray(ids).reshape(-1)]
# ---- end of preprocessing replay ------------------------------------------------------------
