"""An image folder end to end: `workbench new` fits the image-classifier template to it, it
trains through the cached and the streaming path to the same accuracy, and the bundle's
predict.py (Pillow + numpy + onnxruntime, no torch) reproduces the test accuracy from the
image files themselves."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.data import DataSettings

SIZE = {"height": 24, "width": 24}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    from workbench.data.shapes import make_shapes

    folder = tmp_path_factory.mktemp("images")
    make_shapes(folder / "shapes", per_class=80, size=24, seed=1)
    return folder


def _train(folder: Path, cache: str, workers: int = 0, run: str = "run"):
    from workbench.data.fitted import fitted_project
    from workbench.train.trainer import Trainer

    settings = DataSettings(path="shapes", image={**SIZE, "cache": cache, "workers": workers})
    project, data = fitted_project("image-classifier", settings, folder, "shapes")
    result = Trainer(project, data, epochs=30, device="cpu", run_dir=folder / run).run()
    assert result.ok, result.message
    return project, data, result


@pytest.fixture(scope="module")
def cached(shapes):
    return _train(shapes, "memory", run="cached")


def test_the_folder_reads_as_classes_and_splits(cached):
    _, data, _ = cached
    assert data.classes == ["circle", "cross", "square", "triangle"]
    assert data.inputs[0].kind == "image" and data.input_shape == (3, 24, 24)
    assert len(data.train) + len(data.val) + len(data.test) == 320
    assert not data.train.streamed


def test_the_image_template_learns_the_shapes(cached):
    accuracy = cached[2].summary["test"]["accuracy"]
    assert accuracy >= 0.75, accuracy  # chance is 0.25; measured 0.90 (both paths)


def test_streaming_trains_the_same_model(shapes, cached):
    _, data, result = _train(shapes, "stream", workers=2, run="streamed")
    assert data.train.streamed
    # the same rows in the same order with the same pixels: the first epoch's loss is the
    # cached run's to float precision (later epochs drift apart by rounding only)
    first = [h["train_loss"] for h in result.history if "train_loss" in h][0]
    cached_first = [h["train_loss"] for h in cached[2].history if "train_loss" in h][0]
    assert first == pytest.approx(cached_first, rel=1e-5)
    assert result.summary["test"]["accuracy"] >= 0.75


def test_the_bundle_reproduces_the_test_accuracy_without_torch(shapes, cached, tmp_path):
    from workbench.data.images import folder_frame
    from workbench.export.api import export_run

    _, data, result = cached
    report = export_run(shapes / "cached", "bundle", tmp_path / "bundle.zip")
    assert report.passed, report.summary()
    import json

    import onnx
    meta = {p.key: p.value for p in onnx.load(tmp_path / "bundle" / "model.onnx").metadata_props}
    image = json.loads(meta["workbench.preprocessing"])["inputs"][0]["image"]
    assert image["size"] == [24, 24] and image["channels"] == "RGB" and image["layout"] == "NCHW"
    assert len(image["mean"]) == len(image["std"]) == 3
    frame, _ = folder_frame(shapes / "shapes", "shapes")  # the rows prepare() split
    test = frame.iloc[data.split_rows["test"]][["image", "label"]]
    test.to_csv(shapes / "shapes" / "test.csv", index=False)  # paths relative to the CSV
    out = tmp_path / "pred.csv"
    code = ("import sys, runpy; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bundle" / "predict.py"),
                           "--data", str(shapes / "shapes" / "test.csv"), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pred = pd.read_csv(out)
    assert list(pred.columns[:2]) == ["path", "prediction"]
    correct = int((pred["prediction"].to_numpy() == test["label"].to_numpy()).sum())
    assert abs(correct - result.summary["test"]["accuracy"] * len(test)) <= 0.5


def test_a_folder_of_images_is_predicted_path_by_path(shapes, cached, tmp_path):
    from workbench.export.api import export_run

    export_run(shapes / "cached", "bundle", tmp_path / "bundle.zip")
    out = tmp_path / "pred.csv"
    proc = subprocess.run([sys.executable, str(tmp_path / "bundle" / "predict.py"), "--data",
                           str(shapes / "shapes" / "circle"), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pred = pd.read_csv(out)
    assert len(pred) == 80 and pred["path"].str.endswith(".png").all()
    assert (pred["prediction"] == "circle").mean() >= 0.7
