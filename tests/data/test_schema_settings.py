"""Column types, roles and target guesses; data settings as saved in the project."""
from __future__ import annotations

import json

import pytest

from tests.data.helpers import DATA, write
from workbench.data import DataError, DataSettings, inspect


def test_types_roles_and_target_guess(tmp_path):
    ids = "".join(f"id{i},{i % 3},{'ab'[i % 2]},the quick brown fox number {i},{i % 4}\n"
                  for i in range(30))
    p = write(tmp_path, "mix.csv", "key,n,cat,words,label\n" + ids)
    schema = inspect(p)
    got = {c.name: (c.type, c.role) for c in schema.columns}
    assert got == {"key": ("categorical", "ignore"), "n": ("numeric", "feature"),
                   "cat": ("categorical", "feature"), "words": ("text", "feature"),
                   "label": ("numeric", "target")}
    assert schema.task == "classification" and [c for c, _ in schema.classes] == ["0", "1", "2", "3"]
    assert "column 'key' has a different value in every row (an identifier?): ignored" \
        in schema.warnings


def test_target_named_label_wins_over_the_last_column(tmp_path):
    p = write(tmp_path, "t.csv", "a,label,b\n1,x,2\n3,y,4\n5,x,6\n")
    assert inspect(p).targets == ["label"]
    assert inspect(p, target="b").targets == ["b"]


def test_a_text_or_identifier_last_column_is_not_guessed_as_the_target(tmp_path):
    """The Debian descriptions as `section,description` (label first, quoted text last): the
    description is free text, so the guess is the last column that can be a label."""
    import pandas as pd
    d = pd.read_csv(DATA / "debian_sections" / "train.txt", sep="\t", header=None, quoting=3,
                    names=["description", "section"])
    p = tmp_path / "deb.csv"
    d[["section", "description"]].to_csv(p, index=False)
    schema = inspect(p)
    assert schema.targets == ["section"] and len(schema.classes) == 10
    assert schema.column("description").type == "text"
    assert schema.column("description").role == "feature"
    q = write(tmp_path, "ids.csv", "x,y,name\n" + "".join(f"{i},{i % 2},n{i}\n" for i in range(30)))
    assert inspect(q).targets == ["y"]  # the last column names every row differently
    only = write(tmp_path, "only.csv", "a,b\n" + "".join(f"the text {i},word{i % 3} more words\n" for i in range(30)))
    assert inspect(only).targets == ["b"]  # nothing label-like: still the last column


def test_digits_target_is_classification_with_counts():
    schema = inspect(DATA / "digits.csv")
    assert schema.target == "digit" and schema.task == "classification"
    assert [c for c, _ in schema.classes] == [str(i) for i in range(10)]
    assert sum(n for _, n in schema.classes) == 1797


def test_float_target_is_regression_and_overrides_apply(tmp_path):
    p = write(tmp_path, "r.csv", "a,b,price\n1,x,1.5\n2,y,2.25\n3,x,3.75\n")
    schema = inspect(p)
    assert schema.task == "regression" and schema.classes is None
    settings = DataSettings(roles={"b": "ignore"}, types={"a": "categorical"}, task="classification")
    schema = inspect(p, settings=settings)
    assert schema.column("b").role == "ignore" and schema.column("a").type == "categorical"
    assert schema.task == "classification" and len(schema.classes) == 3


def test_regression_target_with_words_names_the_line(tmp_path):
    p = write(tmp_path, "w.csv", "a,y\n1,red\n2,blue\n")
    with pytest.raises(DataError) as info:
        inspect(p, settings=DataSettings(task="regression"))
    assert str(info.value) == \
        f"{p}: line 2, column 'y': 'red' is not a number (a regression target needs numbers)"


def test_settings_round_trip_with_stable_order():
    s = DataSettings(path="train.txt", roles={"b": "ignore", "a": "feature"},
                     text={"min_freq": 2}, split={"kfold": 5})
    d = s.to_dict()
    assert list(d) == ["path", "test_path", "target", "task", "roles", "types", "numeric",
                       "missing", "fill_value", "categorical", "text", "image_shape", "split",
                       "augment", "image", "inputs"]
    assert list(d["roles"]) == ["a", "b"]
    assert d["text"] == {"lowercase": True, "min_freq": 2, "max_vocab": 20000, "max_len": 0,
                         "pad": "pre", "truncate": "post"}
    again = DataSettings.from_dict(json.loads(json.dumps(d)))
    assert again == s and again.to_dict() == d
    assert DataSettings.from_dict({}).to_dict() == DataSettings().to_dict()


@pytest.mark.parametrize("bad, text", [
    ({"task": "cluster"}, "task must be one of auto, classification, regression; not 'cluster'"),
    ({"roles": {"a": "label"}}, "roles['a'] must be one of feature, target, ignore; not 'label'"),
    ({"split": {"val": 0.5, "test": 0.5}}, "split.val + split.test must stay below 1, not 1"),
    ({"split": {"kfold": 1}}, "split.kfold must be 0 (off) or at least 2, not 1"),
    ({"text": {"max_len": -1}}, "text.max_len must be a whole number of at least 0, not -1"),
    ({"image_shape": "8,x"}, "image_shape must be C,H,W with positive sizes (e.g. 1,8,8), not '8,x'"),
    ({"augment": {"token_dropout": 1.0}},
     "augment.token_dropout must be at least 0 and below 1, not 1.0"),
    ({"colour": 1}, "unknown key 'colour' (known: path, test_path, target, task, roles, types, "
                    "numeric, missing, fill_value, categorical, text, image_shape, split, augment, image, inputs)"),
])
def test_bad_settings(bad, text):
    with pytest.raises(DataError) as info:
        DataSettings.from_dict(bad)
    assert str(info.value) == f"data settings: {text}"


def test_an_index_written_with_the_file_is_ignored(tmp_path):
    """pandas' `to_csv` writes the row index as an unnamed first column unless told not to."""
    import pandas as pd
    iris = pd.read_csv(DATA / "iris.csv").sample(frac=1, random_state=0).reset_index(drop=True)
    p = tmp_path / "iris-with-index.csv"
    iris.to_csv(p)
    schema = inspect(p)
    assert schema.column("column_1").role == "ignore"
    assert schema.column("column_1").note == "row numbers (an index?)"
    assert schema.features == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert "column 'column_1' counts the rows (0, 1, 2, … — an index written with the file?): " \
        "ignored" in schema.warnings
    iris.index += 1
    iris.rename_axis("id").to_csv(p)
    assert inspect(p).column("id").role == "ignore"
    assert inspect(p, settings=DataSettings(roles={"id": "feature"})).column("id").role == "feature"
    line = write(tmp_path, "line.csv", "x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(50)))
    assert inspect(line).column("x").role == "feature"  # named x: a real feature that counts up
