"""Several inputs: a table with a text column and numeric columns becomes a two-input model
(token ids + a float tensor) that uses both, exports to ONNX with two named inputs, and the
bundle's predict.py (no torch) predicts as the trained model does."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA
from workbench.data import DataError, DataSettings, prepare

SECTIONS = ["games", "graphics", "net", "sound"]


def mixed_table(path: Path) -> Path:
    """Debian package descriptions (real text) of four sections, with a `downloads` column
    that says the section through noise (sd 0.4 around its index) and a `size_mb` column of
    pure noise: a model that reads the numbers too can beat one that reads the text only."""
    lines = (DATA / "debian_sections" / "train.txt").read_text(encoding="utf-8").splitlines()
    df = pd.DataFrame([line.split("\t") for line in lines], columns=["description", "section"])
    df = df[df.section.isin(SECTIONS)].head(1200).reset_index(drop=True)
    rng = np.random.default_rng(0)
    sid = df.section.map({k: i for i, k in enumerate(SECTIONS)}).to_numpy()
    df.insert(1, "downloads", np.round(sid + rng.normal(0, 0.4, len(df)), 3))
    df.insert(2, "size_mb", np.round(rng.gamma(2.0, 3.0, len(df)), 2))
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(folder, {template: (project, data, result)}) for the multimodal and text models."""
    from workbench.data.fitted import fitted_project
    from workbench.train.trainer import Trainer

    folder = tmp_path_factory.mktemp("mixed")
    mixed_table(folder / "mixed.csv")
    runs = {}
    for template in ("multimodal", "text-classifier"):
        project, data = fitted_project(template, DataSettings(path="mixed.csv"), folder, template)
        result = Trainer(project, data, epochs=25, device="cpu",
                         run_dir=folder / "runs" / template).run()
        assert result.ok, result.message
        runs[template] = (project, data, result)
    return folder, runs


def test_groups_make_one_tensor_per_input(tmp_path):
    mixed_table(tmp_path / "mixed.csv")
    data = prepare(DataSettings(path="mixed.csv", inputs=[
        {"name": "text", "columns": ["description"]},
        {"name": "numbers", "columns": ["downloads", "size_mb"]}]), tmp_path)
    assert [(i.name, i.kind, i.dtype) for i in data.inputs] == [
        ("text", "text", "int64"), ("numbers", "table", "float32")]
    tokens, numbers = data.train.xs
    assert tokens.dtype.is_floating_point is False and tokens.shape[1] == data.inputs[0].shape[0]
    assert tuple(numbers.shape) == (len(data.train), 2)
    assert abs(float(numbers[:, 0].mean())) < 1e-5  # standardised on the training rows
    with pytest.raises(ValueError, match="2 inputs"):
        data.train.x
    spec = data.preprocessor.to_dict()
    assert spec["version"] == 2 and [e["name"] for e in spec["inputs"]] == ["text", "numbers"]


@pytest.mark.parametrize("inputs, message", [
    ([{"name": "all", "columns": ["description", "downloads"]}],
     "input 'all' mixes table and text columns; an input is numbers and categories, text, or "
     "one image column"),
    ([{"name": "n", "columns": ["clicks"]}],
     "input 'n': no column 'clicks' in the data (columns: description, downloads, size_mb, "
     "section)"),
    ([{"name": "n", "columns": ["section"]}], "input 'n': column 'section' is the target"),
])
def test_bad_groups_are_named(tmp_path, inputs, message):
    mixed_table(tmp_path / "mixed.csv")
    with pytest.raises(DataError) as info:
        prepare(DataSettings(path="mixed.csv", inputs=inputs), tmp_path)
    assert str(info.value).endswith(message)


def test_two_inputs_beat_the_text_alone(trained):
    _, runs = trained
    both = runs["multimodal"][2].summary["test"]["accuracy"]
    text = runs["text-classifier"][2].summary["test"]["accuracy"]
    # measured: 0.92 against 0.81 (seed 0); the numbers' own signal is worth more than 0.05
    assert both >= text + 0.05, (both, text)
    assert both >= 0.85


def test_the_bundle_feeds_both_inputs_without_torch(trained, tmp_path):
    import onnx

    from workbench.export.api import export_run
    folder, runs = trained
    run = folder / "runs" / "multimodal"
    report = export_run(run, "bundle", tmp_path / "bundle.zip")
    assert report.passed, report.summary()
    model = onnx.load(tmp_path / "bundle" / "model.onnx")
    assert [i.name for i in model.graph.input] == ["table", "text"]
    out = tmp_path / "pred.csv"
    # torch cannot be imported in the child: predict.py must not need it
    code = ("import sys, runpy; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bundle" / "predict.py"),
                           "--data", str(folder / "mixed.csv"), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    predicted = pd.read_csv(out)["prediction"].astype(str).to_numpy()
    # the trained model on the same rows, through the data layer's own preprocessing
    import torch

    from workbench.train.checkpoint import load_run
    loaded = load_run(run, "best")
    pre = runs["multimodal"][1].preprocessor
    xs, _ = pre.transform(pd.read_csv(folder / "mixed.csv"))
    by_name = dict(zip([e["name"] for e in pre.inputs], xs))
    loaded.model.module.eval()
    with torch.no_grad():
        scores = loaded.model.module(*(torch.from_numpy(by_name[n])
                                       for n in loaded.model.input_names))
    expected = np.array(pre.decode(scores.argmax(1)))
    assert (predicted == expected).mean() >= 0.999


def test_the_python_export_trains_both_inputs(trained, tmp_path):
    """train.py reads the raw file into one tensor per input and calls model(*inputs)."""
    import re

    from workbench.export.api import export_run
    folder, _ = trained
    report = export_run(folder / "runs" / "multimodal", "python", tmp_path / "code")
    assert report.passed, report.summary()
    proc = subprocess.run([sys.executable, str(tmp_path / "code" / "train.py"), "--data",
                           str(folder / "mixed.csv"), "--epochs", "3"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    accuracy = float(re.findall(r"val accuracy ([0-9.]+)", proc.stdout)[-1])
    assert accuracy >= 0.75, proc.stdout  # measured 0.89 after 3 epochs


def test_kfold_keeps_both_inputs_in_every_fold(tmp_path):
    from workbench.data import kfold
    mixed_table(tmp_path / "mixed.csv")
    settings = DataSettings(path="mixed.csv", inputs=[
        {"name": "text", "columns": ["description"]}, {"name": "numbers", "columns": ["downloads"]}])
    folds = list(kfold(settings, tmp_path, 3))
    assert [len(f.train.xs) for f in folds] == [2, 2, 2]
    val_rows = [set(f.split_rows["val"].tolist()) for f in folds]
    assert not (val_rows[0] & val_rows[1]) and not (val_rows[1] & val_rows[2])
    assert all(f.train.xs[1].shape == (len(f.train), 1) for f in folds)


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
def test_pytorch_formats_verify_with_two_inputs(trained, tmp_path, fmt):
    from workbench.export.api import export_run
    folder, _ = trained
    report = export_run(folder / "runs" / "multimodal", fmt, tmp_path / f"model.{fmt}")
    assert report.passed, report.summary()


def test_built_in_preprocessing_says_it_stays_outside_for_several_inputs(trained, tmp_path):
    from workbench.export.api import export_run
    folder, _ = trained
    report = export_run(folder / "runs" / "multimodal", "onnx", tmp_path / "raw.onnx",
                        with_preprocessing=True)
    assert report.passed, report.summary()
    assert any("several inputs or images" in w for w in report.warnings), report.warnings
