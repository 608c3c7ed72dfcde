"""From settings to tensors on the real data sets: splits, transforms fitted on train only,
text vocabularies, images, and the graph binding."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from tests.data.helpers import DATA, write
from workbench.data import DataSettings, Preprocessor, read_table
from workbench.data.prepared import kfold, prepare


@pytest.fixture(scope="module")
def iris():
    return prepare(DataSettings(path="iris.csv"), DATA)


@pytest.fixture(scope="module")
def debian():
    return prepare(DataSettings(path="debian_sections/train.txt",
                                test_path="debian_sections/test.txt"), DATA)


def test_iris_split_is_stratified_with_every_class(iris):
    assert iris.task == "classification"
    assert iris.classes == ["setosa", "versicolor", "virginica"]
    assert (iris.input_shape, iris.input_dtype, iris.target_shape) == ((4,), "float32", ())
    assert iris.cardinality is None and iris.num_classes == 3
    assert len(iris.train) + len(iris.val) + len(iris.test) == 150
    assert (len(iris.train), len(iris.val), len(iris.test)) == (102, 24, 24)
    for split in (iris.train, iris.val, iris.test):
        counts = torch.bincount(split.y, minlength=3)
        assert (counts == counts[0]).all() and counts[0] > 0  # 50 a class: equal shares
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64


def test_standardisation_is_fitted_on_train_only(iris):
    train_mean = iris.train.x.mean(0)
    assert torch.allclose(train_mean, torch.zeros(4), atol=1e-5)
    assert torch.allclose(iris.train.x.std(0, unbiased=False), torch.ones(4), atol=1e-4)
    assert iris.val.x.mean(0).abs().max() > 1e-3  # not re-centred on its own rows
    raw, _ = read_table(DATA / "iris.csv")
    centers = [f["center"] for f in iris.preprocessor.to_dict()["features"]]
    assert not np.allclose(centers, raw.iloc[:, :4].mean().to_numpy(), atol=1e-6)


def test_split_is_seeded():
    a = prepare(DataSettings(path="iris.csv"), DATA)
    b = prepare(DataSettings(path="iris.csv"), DATA)
    c = prepare(DataSettings(path="iris.csv", split={"seed": 1}), DATA)
    assert torch.equal(a.val.x, b.val.x)
    assert not torch.equal(a.val.x, c.val.x)


def test_preprocessor_round_trip_gives_identical_output(iris, debian):
    for data, path in ((iris, DATA / "iris.csv"), (debian, DATA / "debian_sections" / "test.txt")):
        raw, _ = read_table(path)
        again = Preprocessor.from_dict(json.loads(json.dumps(data.preprocessor.to_dict())))
        x1, y1 = data.preprocessor.transform(raw)
        x2, y2 = again.transform(raw)
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
        assert again.to_dict() == data.preprocessor.to_dict()


def test_transform_replays_training_rows_and_decodes(iris):
    raw, _ = read_table(DATA / "iris.csv")
    x, y = iris.preprocessor.transform(raw.drop(columns=["species"]).iloc[:5])
    assert y is None and x.shape == (5, 4) and x.dtype == np.float32
    x_all, y_all = iris.preprocessor.transform(raw)
    assert iris.preprocessor.decode(y_all[[0, 50, 149]]) == ["setosa", "versicolor", "virginica"]
    rows = {tuple(r) for r in np.round(x_all, 5).tolist()}
    assert all(tuple(r) in rows for r in np.round(iris.val.x.numpy(), 5).tolist())


def test_debian_text_vocabulary_and_padding(debian):
    assert debian.input_dtype == "int64" and debian.target_shape == ()
    assert len(debian.classes) == 10 and debian.classes[0] == "admin"
    spec = debian.preprocessor.to_dict()["text"]
    assert spec["vocab"][:2] == ["<pad>", "<oov>"] and debian.cardinality == len(spec["vocab"])
    t = debian.input_shape[0]
    texts = read_table(DATA / "debian_sections/train.txt")[0]["text"]
    lengths = [len(re.findall(r"\w+", s.lower())) for s in texts]
    assert t <= np.percentile(lengths, 96) and t >= np.percentile(lengths, 94)  # ~95th pct.
    assert 3 < t < max(lengths)
    x = debian.train.x
    assert x.shape[1] == t and x.min() >= 0 and x.max() < debian.cardinality
    short = (x == 0).any(1)
    assert short.any()
    first_real = (x != 0).int().argmax(1)
    assert ((x[short][:, -1] != 0)).all()  # pre-padding: the last step is a real token
    assert (first_real[short] > 0).all()
    assert len(debian.test) == 2008  # the separate test file, not a share of train.txt
    assert len(debian.train) + len(debian.val) == 8032
    assert (debian.test.x == 1).any()  # words unseen in training map to OOV


def test_text_options_min_freq_max_vocab_max_len_post_padding():
    base = dict(path="debian_sections/train.txt", split={"val": 0.2, "test": 0.0})
    full = prepare(DataSettings(**base), DATA).cardinality
    rare = prepare(DataSettings(**base, text={"min_freq": 3}), DATA).cardinality
    capped = prepare(DataSettings(**base, text={"max_vocab": 500, "max_len": 8, "pad": "post"}), DATA)
    assert rare < full and capped.cardinality == 500 and capped.input_shape == (8,)
    x = capped.train.x
    assert (x[:, 0] != 0).all()  # post-padding: every text starts at step 0


def test_digits_as_images_and_binding_to_a_graph():
    from workbench.core import Graph

    data = prepare(DataSettings(path="digits.csv", image_shape="1,8,8"), DATA)
    assert data.input_shape == (1, 8, 8) and data.train.x.shape[1:] == (1, 8, 8)
    assert data.classes == [str(i) for i in range(10)]
    g = Graph()
    inp = g.add_node("Input")
    tgt = g.add_node("Target")
    events = []
    g.subscribe(events.append)
    changes = data.bind(g)
    assert (inp.params["shape"], inp.params["dtype"]) == ("1,8,8", "float32")
    assert (tgt.params["shape"], tgt.params["dtype"], tgt.params["num_classes"]) == ("", "int64", 10)
    assert {(e.kind, e.name) for e in events} == {("param_changed", c[1]) for c in changes}
    assert data.bind(g) == []  # nothing left to change


def test_text_binding_sets_cardinality(debian):
    from workbench.core import Graph

    g = Graph()
    inp, tgt = g.add_node("Input"), g.add_node("Target")
    debian.bind(g)
    assert inp.params["dtype"] == "int64" and inp.params["cardinality"] == debian.cardinality
    assert inp.params["shape"] == str(debian.input_shape[0]) and tgt.params["num_classes"] == 10


def test_image_shape_must_match_the_features():
    with pytest.raises(Exception) as info:
        prepare(DataSettings(path="digits.csv", image_shape="1,7,7"), DATA)
    assert str(info.value) == "data settings: image_shape 1,7,7 needs 49 features, the data has 64"


def test_regression_and_several_targets(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    df = pd.DataFrame({"a": a, "b": b, "y": 3 * a - b + 0.5, "z": a * b})
    df.to_csv(tmp_path / "r.csv", index=False)
    data = prepare(DataSettings(path="r.csv", target="y"), tmp_path)
    assert data.task == "regression" and data.classes is None and data.target_shape == (1,)
    assert data.train.y.dtype == torch.float32 and data.train.y.shape[1] == 1
    assert data.input_shape == (3,)
    two = prepare(DataSettings(path="r.csv", target="y", roles={"z": "target"}), tmp_path)
    assert two.target_shape == (2,) and two.input_shape == (2,)


def test_missing_values_and_categories(tmp_path):
    p = write(tmp_path, "m.csv", "num,colour,y\n1,red,a\n,blue,b\n3,,a\n5,red,b\n7,blue,a\n"
                                 "9,green,b\n11,red,a\n13,blue,b\n")
    keep = dict(path="m.csv", split={"val": 0.0, "test": 0.0}, numeric="none")  # all rows train
    data = prepare(DataSettings(**keep), tmp_path)
    spec = data.preprocessor.to_dict()["features"]
    assert spec[0]["type"] == "numeric" and spec[1] == {"column": "colour", "type": "onehot",
                                                      "categories": ["blue", "green", "red"]}
    assert data.input_shape == (4,)
    assert any("column 'num': 1 missing value(s) filled with the training mean" in w
               for w in data.warnings)
    x, _ = data.preprocessor.transform(pd.DataFrame({"num": [None, 2.0], "colour": ["red", "pink"]}))
    assert x[0, 0] == pytest.approx(spec[0]["fill"]) and x[0].tolist()[1:] == [0, 0, 1]
    assert x[1].tolist() == [2, 0, 0, 0]  # an unseen category: all zeros
    idx = prepare(DataSettings(**keep, categorical="index", missing="constant", fill_value=-1),
                  tmp_path)
    x, _ = idx.preprocessor.transform(pd.DataFrame({"num": [None], "colour": ["red"]}))
    assert x.tolist() == [[-1.0, 3.0]]  # ids 1..n in category order, 0 for none
    drop = prepare(DataSettings(**keep, missing="drop"), tmp_path)
    assert len(drop.train) + len(drop.val) == 6
    assert any("2 row(s) with missing values dropped" in w for w in drop.warnings)


def test_median_and_mean_fill(tmp_path):
    write(tmp_path, "skew.csv", "v,y\n1,a\n2,b\n3,a\n100,b\n,a\n")
    whole = dict(path="skew.csv", split={"val": 0.0, "test": 0.0})
    median = prepare(DataSettings(**whole, missing="median"), tmp_path).preprocessor.to_dict()
    mean = prepare(DataSettings(**whole, missing="mean"), tmp_path).preprocessor.to_dict()
    assert median["features"][0]["fill"] == 2.5 and mean["features"][0]["fill"] == 26.5


def test_minmax_scaling(iris):
    data = prepare(DataSettings(path="iris.csv", numeric="minmax"), DATA)
    assert data.train.x.min() == 0 and data.train.x.max() == 1


def test_kfold_validates_each_row_once():
    settings = DataSettings(path="iris.csv", split={"test": 0.0})
    folds = list(kfold(settings, DATA, 5))
    assert [f.fold for f in folds] == [0, 1, 2, 3, 4]
    assert sum(len(f.val) for f in folds) == 150
    for f in folds:
        assert len(f.train) + len(f.val) == 150 and f.test is None
        assert torch.bincount(f.val.y).tolist() == [10, 10, 10]
        assert torch.allclose(f.train.x.mean(0), torch.zeros(4), atol=1e-5)
    centers = {tuple(f.preprocessor.to_dict()["features"][0].values()) for f in folds}
    assert len(centers) == 5  # refitted on each fold


def test_to_device_keeps_everything(iris):
    moved = iris.to("cpu", if_fits=True)
    assert moved.classes == iris.classes and torch.equal(moved.train.x, iris.train.x)
    assert iris.nbytes == 150 * 4 * 4 + 150 * 8  # float32 features + int64 class ids


def test_binding_fits_the_head_to_the_class_count(debian):
    from workbench.core import analyse, templates

    project = templates.build("text-classifier", templates.DataShape((40,), "int64", 5000,
                                                                     "classification", 4))
    head = project.graph.by_title("head")
    changes = debian.bind(project.graph)
    assert (head.id, "out_features", 4, 10) in changes
    assert analyse(project.graph).valid


def test_prepare_hands_back_what_it_read_so_no_caller_reads_twice(monkeypatch):
    """The Data panel shows the frame and the schema: prepare gives both (issue 14.5), and the
    file is read once."""
    import workbench.data.prepared as prepared_module

    reads = []
    real = prepared_module.read_table
    monkeypatch.setattr(prepared_module, "read_table",
                        lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    data = prepare(DataSettings(path=str(DATA / "iris.csv")), keep_frame=True)
    assert len(reads) == 1
    assert data.frame.shape == (150, 5) and list(data.frame.columns) == data.schema.info.columns
    assert data.schema.target == "species" and data.schema.rows == 150
    assert prepare(DataSettings(path=str(DATA / "iris.csv"))).frame is None  # training keeps none


def test_a_held_out_row_is_taken_from_a_class_with_rows_to_spare():
    """Tiny files (a class of one row): the validation and test rows a split must not lack
    come from a class that still trains without them, so no class loses its only row."""
    from workbench.data.split import split_indices
    labels = np.array([0, 0, 0, 1, 2])
    for seed in range(20):
        train, val, test = split_indices(5, 0.15, 0.15, seed, labels)
        assert len(val) == 1 and len(test) == 1, seed
        assert set(labels[train]) == {0, 1, 2}, seed
