"""docs/preprocessing-format.md is precise enough to re-implement transform(): this file does
so from the doc alone (numpy + pandas, files read as text) and checks it against Workbench."""
from __future__ import annotations

import csv
import json
import re

import numpy as np
import pandas as pd
import pytest

from tests.data.helpers import DATA, write
from workbench.data import DataError, DataSettings, Preprocessor
from workbench.data.prepared import prepare


# -- the re-implementation, following the doc ------------------------------------------------
def read_raw(path, spec):
    r = spec["read"]
    kwargs = dict(sep=r"\s+" if r["delimiter"] == " " else r["delimiter"], encoding=r["encoding"],
                  decimal=r["decimal"], dtype=str, keep_default_na=False,
                  na_values=spec["missing_tokens"], engine="c",
                  quoting=csv.QUOTE_MINIMAL if r["quoting"] else csv.QUOTE_NONE)
    if r["has_header"]:
        return pd.read_csv(path, header=0, **kwargs)
    return pd.read_csv(path, header=None, names=spec["columns"], **kwargs)


def key(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    try:
        x = float(str(v).strip())
    except ValueError:
        return str(v)
    if x != x:
        return str(v)
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else format(x, ".7g")


def reference(df, spec):
    if spec["text"] is None:
        parts = []
        for f in spec["features"]:
            s = df[f["column"]]
            if f["type"] == "numeric":
                v = pd.to_numeric(s.astype(object).map(
                    lambda t: t.strip() if isinstance(t, str) else t)).to_numpy(np.float64)
                v = v.astype(np.float32)
                v[np.isnan(v)] = np.float32(f["fill"])
                parts.append(((v - np.float32(f["center"])) / np.float32(f["scale"]))[:, None])
            else:
                cats = {c: i for i, c in enumerate(f["categories"])}
                codes = np.array([cats.get(key(v), -1) for v in s])
                if f["type"] == "index":
                    parts.append((codes + 1).astype(np.float32)[:, None])
                else:
                    block = np.zeros((len(s), len(cats)), np.float32)
                    block[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1
                    parts.append(block)
        x = np.concatenate(parts, axis=1).reshape((len(df), *spec["input"]["shape"]))
    else:
        t = spec["text"]
        vocab = {w: i for i, w in enumerate(t["vocab"])}
        x = np.zeros((len(df), t["max_len"]), np.int64)
        for row, text in enumerate(df[t["columns"][0]]):
            words = re.findall(t["pattern"], text.lower() if t["lowercase"] else text) \
                if isinstance(text, str) else []
            ids = [vocab.get(w, 1) for w in words]
            if len(ids) > t["max_len"]:
                ids = ids[: t["max_len"]] if t["truncate"] == "post" else ids[-t["max_len"]:]
            if ids:
                if t["pad"] == "pre":
                    x[row, t["max_len"] - len(ids):] = ids
                else:
                    x[row, : len(ids)] = ids
    target = spec["target"]
    if target["task"] == "classification":
        classes = {c: i for i, c in enumerate(target["classes"])}
        y = np.array([classes.get(key(v), -1) for v in df[target["columns"][0]]], np.int64)
    else:
        y = np.stack([pd.to_numeric(df[c]).to_numpy(np.float32) for c in target["columns"]], 1)
    return x, y


# -- the checks ------------------------------------------------------------------------------
CASES = [
    ("iris.csv", {}),
    ("digits.csv", {"image_shape": "1,8,8"}),
    ("debian_sections/train.txt", {"text": {"max_len": 12, "pad": "pre"}}),
    ("debian_sections/train.txt", {"text": {"min_freq": 2, "pad": "post", "truncate": "pre"}}),
]


@pytest.mark.parametrize("path, extra", CASES)
def test_reference_matches_workbench_on_real_data(path, extra):
    data = prepare(DataSettings(path=path, **extra), DATA)
    spec = json.loads(json.dumps(data.preprocessor.to_dict()))
    raw = read_raw(DATA / path, spec)
    x_ref, y_ref = reference(raw, spec)
    x, y = data.preprocessor.transform(raw)
    assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)
    assert x.dtype == data.train.x.numpy().dtype


def test_reference_matches_on_categories_missing_values_and_regression(tmp_path):
    write(tmp_path, "mix.csv",
          "n,colour,size,y\n1.5,red,3,0.5\n,blue,4,1.5\n2.5,,3,2.0\n3,red,5.0,2.5\n"
          "?,green,4,3.5\n4,blue,3,4.0\n5.25,red,5,1.0\n6,blue,4,0.0\n")
    for categorical in ("onehot", "index"):
        data = prepare(DataSettings(path="mix.csv", categorical=categorical,
                                    types={"size": "categorical"}, split={"val": 0.25, "test": 0}),
                       tmp_path)
        assert data.task == "regression"
        spec = data.preprocessor.to_dict()
        raw = read_raw(tmp_path / "mix.csv", spec)
        x_ref, y_ref = reference(raw, spec)
        x, y = data.preprocessor.transform(raw)
        assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_transform_needs_the_feature_columns():
    data = prepare(DataSettings(path="iris.csv"), DATA)
    with pytest.raises(DataError) as info:
        data.preprocessor.transform(pd.DataFrame({"sepal_length": [1.0]}))
    assert str(info.value) == ("no column 'sepal_width' (the model was trained with it; the data "
                               "has sepal_length)")


def test_from_dict_refuses_other_formats():
    with pytest.raises(DataError) as info:
        Preprocessor.from_dict({"format": "workbench-preprocessing", "version": 3})
    assert str(info.value) == ("preprocessing: version 3 is not supported (this Workbench reads "
                               "versions 1 and 2)")
    with pytest.raises(DataError):
        Preprocessor.from_dict({"format": "something else"})
