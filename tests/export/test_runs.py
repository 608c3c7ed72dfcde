"""Exports of real trained runs: the bundle's predict.py in a subprocess, the preprocessing
replay against the data layer's Preprocessor, train.py, compression figures and the CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA

pytest.importorskip("workbench.data.prepared")


def _train(folder: Path, data_file: str, template: str, epochs: int, **settings):
    from workbench.core import project as pf
    from workbench.core import templates
    from workbench.data import DataSettings, prepare
    from workbench.train.trainer import Trainer
    s = DataSettings(path=data_file, **settings)
    d = prepare(s, folder)
    shape = templates.DataShape(d.input_shape, d.input_dtype, d.cardinality, d.task, d.num_classes,
                                d.target_shape, d.rows)
    project = templates.build(template, shape)
    project.data = s.to_dict()
    pf.save(project, folder / "project.wbproj")
    result = Trainer(project, d, epochs=epochs, run_dir=folder / "run").run()
    assert result.ok, result.message
    return folder / "run", result, d


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    shutil.copy(DATA / "iris.csv", folder / "iris.csv")
    return _train(folder, "iris.csv", "mlp-classifier", epochs=15)


@pytest.fixture(scope="module")
def debian(tmp_path_factory):
    """The text classifier on the Debian descriptions, with test.txt as the test split."""
    folder = tmp_path_factory.mktemp("debian")
    for name in ("train.txt", "test.txt"):
        shutil.copy(DATA / "debian_sections" / name, folder / name)
    return _train(folder, "train.txt", "text-classifier", epochs=2, test_path="test.txt",
                  text={"max_vocab": 3000, "max_len": 16})


def _predict(bundle: Path, data: Path, out: Path) -> pd.DataFrame:
    proc = subprocess.run([sys.executable, str(bundle / "predict.py"), "--data", str(data), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return pd.read_csv(out, keep_default_na=False)


def test_text_bundle_reproduces_the_trainers_test_accuracy(debian, tmp_path):
    from workbench.export.api import export_run
    run, result, _ = debian
    report = export_run(run, "bundle", tmp_path / "bundle.zip")
    assert report.passed, report.summary()
    assert (tmp_path / "bundle.zip").exists()
    names = {p.name for p in report.paths}
    assert {"model.onnx", "preprocessing.json", "predict.py", "README.md"} <= names
    test = run.parent / "test.txt"
    pred = _predict(tmp_path / "bundle", test, tmp_path / "pred.csv")
    truth = pd.read_csv(test, sep="\t", header=None, quoting=3, dtype=str)[1].tolist()
    assert len(pred) == len(truth)
    correct = int((pred["prediction"].astype(str) == pd.Series(truth)).sum())
    reported = result.summary["test"]["accuracy"] * len(truth)
    assert abs(correct - reported) <= 1, (correct, reported)


def test_replay_matches_preprocessor_on_real_files(iris, debian):
    """predict.py's numpy/pandas preprocessing == the data layer's Preprocessor.transform."""
    from workbench.data import Preprocessor, read_table
    from workbench.export.bundle import predict_source
    scope = {"__file__": "predict.py", "__name__": "replay"}
    exec(compile(predict_source(), "predict.py", "exec"), scope)
    digits = _digits_preprocessing()
    cases = [(iris[2].preprocessor, DATA / "iris.csv"),
             (debian[2].preprocessor, DATA / "debian_sections" / "test.txt"),
             (digits, DATA / "digits.csv")]
    for pre, path in cases:
        spec = pre.to_dict()
        want_x, want_y = pre.transform(read_table(path)[0])
        got_x, got_y = scope["transform"](scope["read_raw"](str(path), spec), spec)
        assert got_x.dtype == want_x.dtype and got_x.shape == want_x.shape, path
        np.testing.assert_allclose(got_x, want_x, rtol=1e-6, atol=1e-6, err_msg=str(path))
        np.testing.assert_array_equal(got_y, want_y)


def test_replay_reads_decimal_commas_like_training(tmp_path):
    """A European file (`;` between fields, `,` as decimal mark): predict.py reads its text
    cells, so the numbers must be converted there exactly as training read them, for the
    features and for a regression target."""
    from workbench.data import DataSettings, Preprocessor, prepare, read_table
    from workbench.export.bundle import predict_source
    scope = {"__file__": "predict.py", "__name__": "replay"}
    exec(compile(predict_source(), "predict.py", "exec"), scope)
    iris = pd.read_csv(DATA / "iris.csv")
    iris.loc[[3, 40], "sepal_length"] = np.nan
    path = tmp_path / "iris-eu.csv"
    iris.to_csv(path, sep=";", decimal=",", index=False)
    assert "5,1;3,5" in path.read_text().splitlines()[1]
    for target in ("species", "petal_width"):
        pre = prepare(DataSettings(path=str(path), target=target), tmp_path).preprocessor
        spec = pre.to_dict()
        assert spec["read"]["decimal"] == ","
        want_x, want_y = pre.transform(read_table(path)[0])
        got_x, got_y = scope["transform"](scope["read_raw"](str(path), spec), spec)
        np.testing.assert_allclose(got_x, want_x, rtol=1e-6, atol=1e-6, err_msg=target)
        np.testing.assert_allclose(got_y, want_y, err_msg=target)
        assert np.abs(want_x).max() < 5  # scaled numbers, not the fill value of unparsed text


def _digits_preprocessing():
    from workbench.data import DataSettings, prepare
    return prepare(DataSettings(path=str(DATA / "digits.csv"), image_shape="1,8,8", numeric="minmax"),
                   ".").preprocessor


def test_bundle_with_preprocessing_quantize_prune(iris, tmp_path):
    from workbench.export.api import export_run
    run, result, _ = iris
    report = export_run(run, "bundle", tmp_path / "b", with_preprocessing=True, quantize="int8", prune=0.5)
    assert report.passed, report.summary()
    assert report.extra_verifications["preprocessing"].passed
    kinds = {c.kind: c for c in report.compression}
    assert set(kinds) == {"prune", "int8"}
    for c in kinds.values():
        assert c.metric == "test_accuracy" and c.original_metric is not None
        assert c.compressed_bytes < c.original_bytes
        assert abs(c.metric_change) <= 0.2
    assert kinds["prune"].sparsity == pytest.approx(0.5, abs=0.01)
    import onnx
    m = onnx.load(str(tmp_path / "b" / "model.onnx"))
    assert [i.name for i in m.graph.input] == ["00_sepal_length", "01_sepal_width", "02_petal_length",
                                               "03_petal_width"]
    pred = _predict(tmp_path / "b", DATA / "iris.csv", tmp_path / "p.csv")
    assert set(pred["prediction"]) <= {"setosa", "versicolor", "virginica"} and len(pred) == 150

    def fails(data):
        proc = subprocess.run([sys.executable, str(tmp_path / "b" / "predict.py"), "--data", str(data),
                               "-o", str(tmp_path / "x.csv")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr and not (tmp_path / "x.csv").exists()
        return proc.stderr.strip()

    assert fails(tmp_path / "none.csv") == f"error: {tmp_path / 'none.csv'}: no such file"
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6,3,4,1,2\n")
    assert fails(wrong) == (f"error: {wrong}: Expected 4 fields in line 3, saw 5 "
                            "(read like the training file: fields separated by commas, a header row)")


def test_python_export_train_py_runs(iris, tmp_path):
    from workbench.export.api import export_run
    run, _, _ = iris
    report = export_run(run, "python", tmp_path / "code")
    assert report.passed, report.summary()
    proc = subprocess.run([sys.executable, str(tmp_path / "code" / "train.py"), "--data", str(DATA / "iris.csv"),
                           "--epochs", "2", "--out", str(tmp_path / "t.pt"), "--init",
                           str(tmp_path / "code" / "weights.pt")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "epoch 2/2" in proc.stdout and (tmp_path / "t.pt").exists()


def test_cli_export_onnx_and_errors(iris, tmp_path, capsys):
    from workbench.cli import main
    run, _, _ = iris
    code = main(["export", str(run.parent / "project.wbproj"), "--run", str(run), "--format", "onnx",
                 "-o", str(tmp_path / "m.onnx"), "--quantize", "int8", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "max abs diff" in out and "int8 dynamic quantisation" in out and "verification passed" in out
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is True
    assert (tmp_path / "m.int8.onnx").exists()
    # the preprocessing the model needs, beside it: a client replays it and gets the accuracy
    pre = json.loads((tmp_path / "m.preprocessing.json").read_text())
    assert pre == iris[2].preprocessor.to_dict()
    from workbench.export.bundle import predict_source
    import onnxruntime as ort
    scope = {"__file__": "predict.py", "__name__": "replay"}
    exec(compile(predict_source(), "predict.py", "exec"), scope)
    x, y = scope["transform"](scope["read_raw"](str(DATA / "iris.csv"), pre), pre)
    scores = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    assert (scores.argmax(1) == y).mean() >= 0.9
    code = main(["export", "p.wbproj", "--run", str(tmp_path / "nope"), "--format", "pt2", "-o", "x.pt2"])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: ") and err.count("\n") == 1
