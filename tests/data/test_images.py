"""Image folders and path columns: what is found, what is refused (one line naming the path),
and how images are sized, coloured and normalised."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from workbench.data import image_decode, images
from workbench.data.errors import DataError
from workbench.data.schema import is_image_column
from workbench.data.settings import DataSettings


def png(path: Path, size=(8, 6), colour=(200, 30, 30), mode="RGB") -> Path:
    """A flat picture of `size` (W, H)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def truncated(path: Path) -> Path:
    png(path, size=(16, 16))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def folder(root: Path, classes=("cats", "dogs"), n=3) -> Path:
    for c in classes:
        for i in range(n):
            png(root / c / f"{i}.png", colour=(40 * i, 100, 50))
    return root


def test_folder_frame_lists_classes_and_counts_what_it_ignores(tmp_path):
    root = folder(tmp_path / "shapes")
    (root / "cats" / "notes.txt").write_text("x")
    (root / ".git").mkdir()
    (root / ".git" / "a.png").write_bytes(b"")
    (root / "dogs" / ".thumbs").mkdir()
    (root / "README.md").write_text("x")
    png(root / "dogs" / "puppies" / "p.png")
    df, info = images.folder_frame(root, "shapes")
    assert info.classes == [("cats", 3), ("dogs", 4)]
    assert info.ignored_files == 2 and info.ignored_folders == 2
    assert list(df.columns) == ["image", "label"]
    assert df["image"].tolist()[:3] == ["cats/0.png", "cats/1.png", "cats/2.png"]
    assert "dogs/puppies/p.png" in df["image"].tolist()
    assert df["label"].value_counts().to_dict() == {"cats": 3, "dogs": 4}
    assert info.warnings == ["shapes: 2 non-image or hidden files and 2 hidden folders ignored"]


def test_train_val_test_sub_trees_become_the_split_column(tmp_path):
    root = tmp_path / "shapes"
    folder(root / "train", n=3)
    folder(root / "val", n=1)
    folder(root / "test", n=2)
    df, info = images.folder_frame(root, "shapes")
    assert info.splits == {"train": 6, "val": 2, "test": 4}
    assert info.classes == [("cats", 6), ("dogs", 6)]
    assert df["__split__"].value_counts().to_dict() == {"train": 6, "test": 4, "val": 2}
    assert df.loc[df["__split__"] == "val", "image"].tolist() == ["val/cats/0.png",
                                                                 "val/dogs/0.png"]


def test_empty_class_folder_is_named(tmp_path):
    root = folder(tmp_path / "shapes", classes=("cats",))
    (root / "dogs").mkdir()
    (root / "dogs" / "readme.txt").write_text("x")
    with pytest.raises(DataError) as e:
        images.folder_frame(root, "shapes")
    assert str(e.value) == "shapes/dogs: the class folder holds no images (.png, .jpg, …)"


def test_one_class_is_refused(tmp_path):
    root = folder(tmp_path / "shapes", classes=("cats",))
    with pytest.raises(DataError) as e:
        images.folder_frame(root, "shapes")
    assert str(e.value) == "shapes: one class folder only (cats); a classifier needs at least 2"


def test_folder_without_images(tmp_path):
    (tmp_path / "shapes" / "cats").mkdir(parents=True)
    with pytest.raises(DataError) as e:
        images.folder_frame(tmp_path / "shapes", "shapes")
    assert str(e.value) == "shapes: no images (.png, .jpg, …) in class sub-folders (<class>/*.png)"


def test_path_column_naming_a_missing_file(tmp_path):
    png(tmp_path / "img" / "a.png")
    df = pd.DataFrame({"image": ["img/a.png"] * 3 + ["img/x.png"], "label": list("abab")})
    assert is_image_column(df["image"])
    assert not is_image_column(df["label"])
    assert not is_image_column(pd.Series([1.0, 2.0]))
    with pytest.raises(DataError) as e:
        images.check_files(df, "image", tmp_path, "labels.csv", None)
    assert str(e.value) == "labels.csv: line 5, column 'image': no file 'img/x.png'"
    images.check_files(df.iloc[:3], "image", tmp_path, "labels.csv", None)


def test_path_column_line_is_exact_when_the_csv_is_read_again(tmp_path):
    from workbench.data.read import read_table
    png(tmp_path / "a.png")
    csv = tmp_path / "labels.csv"
    csv.write_text('image,label\na.png,"two\nlines"\n\na.png,b\nnope.png,c\n')
    df, info = read_table(csv)
    with pytest.raises(DataError) as e:
        images.check_files(df, "image", tmp_path, "labels.csv", info, csv_path=csv)
    assert str(e.value) == "labels.csv: line 6, column 'image': no file 'nope.png'"


def spec(size=(4, 6), mode="resize", channels="RGB"):
    c = image_decode.CHANNELS[channels]
    return {"column": "image", "size": list(size), "mode": mode, "channels": channels,
            "mean": [0.0] * c, "std": [1.0] * c}


def test_corrupt_image_refused_with_its_path(tmp_path):
    root = folder(tmp_path / "shapes")
    truncated(root / "cats" / "x.png")
    df, _ = images.folder_frame(root, "shapes")
    with pytest.raises(DataError) as e:
        images.decode_rows(df, range(len(df)), "image", root, spec(), "refuse")
    assert str(e.value) == "shapes/cats/x.png: cannot read the image (image file is truncated)"


def test_corrupt_images_skipped_and_named(tmp_path):
    root = folder(tmp_path / "shapes")
    for i in range(5):
        (root / "dogs" / f"bad{i}.png").write_bytes(b"not a png")
    df, _ = images.folder_frame(root, "shapes")
    x, bad = images.decode_rows(df, range(len(df)), "image", root, spec(), "skip")
    assert x.shape == (6, 3, 4, 6) and x.dtype.is_floating_point
    assert df["image"].iloc[bad].tolist() == [f"dogs/bad{i}.png" for i in range(5)]
    assert images.skipped_warning(df, bad, "image", "shapes") == (
        "left out 5 unreadable images: shapes/dogs/bad0.png, shapes/dogs/bad1.png, "
        "shapes/dogs/bad2.png and 2 more")
    # the rows kept are decoded in order: row 0 is cats/0.png, red 0, green 100, blue 50
    assert np.allclose(x[0, :, 0, 0].numpy(), [0, 100 / 255, 50 / 255], atol=1e-6)


@pytest.mark.parametrize("mode,expect", [("resize", (2, 3, 5, 5)), ("crop", (2, 3, 5, 5)),
                                         ("pad", (2, 3, 5, 5))])
def test_resize_modes_give_the_target_shape(tmp_path, mode, expect):
    png(tmp_path / "wide.png", size=(20, 10), colour=(255, 255, 255))
    png(tmp_path / "tall.png", size=(10, 20), colour=(255, 255, 255))
    df = pd.DataFrame({"image": ["wide.png", "tall.png"]})
    x, bad = images.decode_rows(df, [0, 1], "image", tmp_path, spec((5, 5), mode), "refuse")
    assert tuple(x.shape) == expect and bad == []
    if mode == "pad":    # a 2:1 picture padded to a square: black bands beside it
        assert x[0, 0, 0, 2] == 0 and x[0, 0, 2, 2] == 1
        assert x[1, 0, 2, 0] == 0 and x[1, 0, 2, 2] == 1
    else:
        assert bool((x == 1).all())


def settings(**image):
    s = DataSettings()
    s.image.update(image)
    return s


def test_fit_auto_size_channels_and_normalisation(tmp_path):
    for i in range(3):
        png(tmp_path / f"big{i}.png", size=(200, 100), colour=(255, 0, 0))
    png(tmp_path / "small.png", size=(10, 10), colour=(0, 0, 255))
    df = pd.DataFrame({"image": ["big0.png", "big1.png", "big2.png", "small.png"]})
    fitted = images.fit_image(df, [0, 1, 2, 3], "image", tmp_path, settings())
    # the most common size (100 high, 200 wide), the long side brought down to 64
    assert fitted["size"] == [32, 64] and fitted["channels"] == "RGB"
    assert fitted["mean"] == pytest.approx([0.75, 0.0, 0.25])
    assert fitted["std"][0] == pytest.approx(np.sqrt(0.75 * 0.25))
    assert fitted["std"][1] == 1.0          # a constant channel is not divided by zero
    x, _ = images.decode_rows(df, [0, 3], "image", tmp_path, fitted, "refuse")
    assert x.shape == (2, 3, 32, 64)
    assert x[:, 0].mean().item() == pytest.approx((1 - 0.75) / np.sqrt(0.1875) / 2
                                                  + (0 - 0.75) / np.sqrt(0.1875) / 2)
    # only the training rows count: fitted on the small blue one alone
    fitted = images.fit_image(df, [3], "image", tmp_path, settings())
    assert fitted["size"] == [10, 10] and fitted["mean"] == pytest.approx([0, 0, 1])


def test_fit_channels_greyscale_rgb_and_rgba(tmp_path):
    png(tmp_path / "g.png", colour=120, mode="L")
    png(tmp_path / "grey_rgb.jpg", colour=(90, 90, 90))
    png(tmp_path / "rgba.png", colour=(255, 0, 0, 128), mode="RGBA")
    df = pd.DataFrame({"image": ["g.png", "grey_rgb.jpg", "rgba.png"]})
    grey = images.fit_image(df, [0, 1], "image", tmp_path, settings())
    assert grey["channels"] == "L" and len(grey["mean"]) == 1
    assert grey["mean"][0] == pytest.approx((120 + 90) / 2 / 255, abs=2 / 255)
    colour = images.fit_image(df, [0, 1, 2], "image", tmp_path, settings())
    assert colour["channels"] == "RGB" and len(colour["mean"]) == 3
    chosen = images.fit_image(df, [0, 2], "image", tmp_path, settings(channels="RGBA",
                                                                       height=3, width=2))
    assert chosen["channels"] == "RGBA" and chosen["size"] == [3, 2]
    x, _ = images.decode_rows(df, [0, 1, 2], "image", tmp_path, chosen, "refuse")
    assert x.shape == (3, 4, 3, 2)
    # RGB of the half-transparent red is composed on black when read as RGB
    rgb = image_decode.pixels(tmp_path / "rgba.png", spec((3, 2)))
    assert rgb[:, 0, 0].tolist() == [128, 0, 0]


def test_fit_samples_at_most_2000_images(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "FIT_SAMPLE", 3)
    for i in range(6):
        png(tmp_path / f"{i}.png", colour=(i * 40, 0, 0))
    df = pd.DataFrame({"image": [f"{i}.png" for i in range(6)]})
    seen = []
    real = images._header
    monkeypatch.setattr(images, "_header", lambda p: seen.append(p.name) or real(p))
    a = images.fit_image(df, range(6), "image", tmp_path, settings())
    first = list(seen)
    seen.clear()
    b = images.fit_image(df, range(6), "image", tmp_path, settings())
    assert len(first) == 3 and seen == first and a == b


def test_thumbnails_per_class_skip_unreadable(tmp_path):
    root = folder(tmp_path / "shapes")
    (root / "cats" / "0.png").write_bytes(b"broken")
    df, _ = images.folder_frame(root, "shapes")
    thumbs = images.thumbnails(df, "image", root, spec((4, 4)), 2, "label")
    assert [(label, path) for label, path, _ in thumbs] == [
        ("cats", "cats/1.png"), ("cats", "cats/2.png"), ("dogs", "dogs/0.png"),
        ("dogs", "dogs/1.png")]
    assert thumbs[0][2].dtype == np.uint8 and thumbs[0][2].shape == (3, 4, 4)


def test_cache_or_stream():
    s = spec((64, 64))
    assert images.cache_bytes(1000, s) == 1000 * 3 * 64 * 64 * 4
    assert not images.should_stream(1000, s, "auto")
    assert images.should_stream(1000, s, "stream")
    assert not images.should_stream(10 ** 9, s, "memory")
    assert images.should_stream(10 ** 9, s, "auto")
