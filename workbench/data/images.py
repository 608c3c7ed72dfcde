"""Image data: folders of class sub-folders, columns of image paths, and their decoding.

Decoding itself lives in `image_decode` (shared verbatim with the bundle's predict.py); this
module finds the files, names what is wrong with them in one line, fits the size/channels/
normalisation on the training images, and decodes whole splits with a thread pool (Pillow
releases the GIL while decoding, so threads scale without worker processes).
"""
from __future__ import annotations

import os
import random
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from workbench.data import image_decode
from workbench.data.errors import DataError, listing
from workbench.data.schema import SPLIT_COLUMN

SPLITS = ("train", "val", "test")
FIT_SAMPLE = 2000           # images the size, channels, mean and std are fitted on
MAX_AUTO_SIDE = 64          # automatic size: the long side at most this
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SUFFIX_TEXT = ".png, .jpg, …"


@dataclass
class FolderInfo:
    """What a folder read found: the classes and what was left out, for the Data panel."""
    classes: list[tuple[str, int]] = field(default_factory=list)   # (name, images)
    ignored_files: int = 0
    ignored_folders: int = 0
    splits: dict[str, int] = field(default_factory=dict)           # "train" -> images
    warnings: list[str] = field(default_factory=list)


def is_image_file(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(image_decode.SUFFIXES)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__")


# -- folders ------------------------------------------------------------------------------

def folder_frame(root: Path, display: str) -> tuple[pd.DataFrame, FolderInfo]:
    """`root/<class>/*.png` (or `root/train|val|test/<class>/…`) as a frame of `image`
    (path relative to root, "/" separators) and `label`, plus `__split__` for sub-trees."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("not a folder", path=display)
    info = FolderInfo()
    top = _subfolders(root, info, count_files=True)
    names = {p.name for p in top}
    split_tree = "train" in names and names <= set(SPLITS)
    trees = [(p.name, p) for p in sorted(top) if p.name in SPLITS] if split_tree else [("", root)]
    if split_tree:
        trees.sort(key=lambda t: SPLITS.index(t[0]))
    rows: list[tuple[str, str, str]] = []
    counts: Counter = Counter()
    empty: list[str] = []
    seen: set[str] = set()
    for split, tree in trees:
        folders = _subfolders(tree, info, count_files=True) if split_tree else top
        for folder in sorted(folders, key=lambda p: p.name):
            files = _images_under(folder, info)
            seen.add(folder.name)
            if not files:
                empty.append(f"{display}/{split}/{folder.name}" if split
                             else f"{display}/{folder.name}")
            for rel in files:
                rows.append((folder.relative_to(root).as_posix() + "/" + rel, folder.name, split))
            counts[folder.name] += len(files)
            if split:
                info.splits[split] = info.splits.get(split, 0) + len(files)
    if not rows:
        raise DataError(f"no images ({SUFFIX_TEXT}) in class sub-folders (<class>/*.png)",
                        path=display)
    if empty:
        raise DataError(f"the class folder holds no images ({SUFFIX_TEXT})", path=empty[0])
    classes = sorted(seen)
    if len(classes) < 2:
        raise DataError(f"one class folder only ({classes[0]}); a classifier needs at least 2",
                        path=display)
    info.classes = [(c, counts[c]) for c in classes]
    if split_tree and "train" in info.splits:
        missing = [c for c in classes if not any(r[1] == c and r[2] == "train" for r in rows)]
        if missing:
            info.warnings.append(f"{display}: no training images for class {listing(missing)}")
    ignored = []
    if info.ignored_files:
        ignored.append(f"{info.ignored_files} non-image or hidden file"
                       + ("s" if info.ignored_files != 1 else ""))
    if info.ignored_folders:
        ignored.append(f"{info.ignored_folders} hidden folder"
                       + ("s" if info.ignored_folders != 1 else ""))
    if ignored:
        info.warnings.append(f"{display}: {' and '.join(ignored)} ignored")
    frame = pd.DataFrame({"image": [r[0] for r in rows], "label": [r[1] for r in rows]})
    if split_tree:
        frame[SPLIT_COLUMN] = [r[2] for r in rows]
    return frame, info


def _subfolders(folder: Path, info: FolderInfo, count_files: bool) -> list[Path]:
    out = []
    for entry in os.scandir(folder):
        if entry.is_dir():
            if _is_hidden(entry.name):
                info.ignored_folders += 1
            else:
                out.append(Path(entry.path))
        elif count_files:
            info.ignored_files += 1   # files beside the class folders are no class's
    return out


def _images_under(folder: Path, info: FolderInfo) -> list[str]:
    """Image files in the class folder and its non-hidden sub-folders, relative, sorted."""
    found = []
    for here, dirs, files in os.walk(folder):
        hidden = [d for d in dirs if _is_hidden(d)]
        info.ignored_folders += len(hidden)
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        rel = Path(here).relative_to(folder).as_posix()
        for name in files:
            if is_image_file(name):
                found.append(name if rel == "." else f"{rel}/{name}")
            else:
                info.ignored_files += 1
    return sorted(found)


# -- path columns -------------------------------------------------------------------------

def resolve(value, base_dir: Path) -> Path:
    path = Path(str(value).strip())
    return path if path.is_absolute() else Path(base_dir) / path


def check_files(df: pd.DataFrame, column: str, base_dir: Path, display: str, info=None,
                csv_path=None) -> None:
    """Every row's image exists; else a DataError naming the CSV line, column and path.
    The line is exact through `csv_path` (read again), else counted from the header."""
    values = df[column].tolist()
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)) or \
                not str(value).strip():
            raise DataError("no image path", path=display, line=_line(row, info, csv_path),
                            column=column)
        if not resolve(value, base_dir).is_file():
            raise DataError(f"no file '{str(value).strip()}'", path=display,
                            line=_line(row, info, csv_path), column=column)


def _line(row: int, info, csv_path) -> int:
    if info is not None and csv_path is not None:
        from workbench.data.read import line_of_row
        number = line_of_row(csv_path, info, row)
        if number is not None:
            return number
    header = 1 if info is None or getattr(info, "has_header", True) else 0
    return row + 1 + header


# -- fitting ------------------------------------------------------------------------------

def fit_image(df: pd.DataFrame, rows, column: str, base_dir: Path, settings) -> dict:
    """The image entry of preprocessing.json, fitted on (a seeded sample of) the training rows.

    size: the set height/width, or the most common size, scaled so the long side is at most 64;
    channels: the set one, or RGB when any sampled image has colour, else L;
    mean/std: per channel over the sampled images at the fitted size (0..1 pixel units).
    """
    im = settings.image if hasattr(settings, "image") else dict(settings)
    seed = int(getattr(settings, "split", {}).get("seed", 0)) if hasattr(settings, "split") else 0
    rows = list(rows)
    if len(rows) > FIT_SAMPLE:
        rows = sorted(random.Random(seed).sample(rows, FIT_SAMPLE))
    paths = [resolve(df[column].iat[r], base_dir) for r in rows]
    heads = _threads(_header, paths)
    good = [(p, h) for p, h in zip(paths, heads) if h is not None]
    if not good:
        raise DataError("none of the training images can be read", column=column,
                        path=str(base_dir))
    if int(im.get("height", 0)) and int(im.get("width", 0)):
        size = [int(im["height"]), int(im["width"])]
    else:
        size = list(auto_size([h[0] for _, h in good]))
    channels = im.get("channels", "auto")
    probe = "RGB" if channels == "auto" else channels
    if channels == "auto" and all(h[1] in GREY_MODES for _, h in good):
        probe = "L"
    spec = {"column": column, "size": size, "mode": im.get("mode", "resize"), "channels": probe}
    arrays = [a for a in _threads(lambda p: _pixels_or_none(p, spec), [p for p, _ in good])
              if a is not None]
    if not arrays:
        raise DataError("none of the training images can be read", column=column,
                        path=str(base_dir))
    stack = np.stack(arrays).astype(np.float32) / 255.0           # (n, C, H, W)
    if channels == "auto" and probe == "RGB" and not _has_colour(stack):
        stack = (stack[:, :1] * 0.299 + stack[:, 1:2] * 0.587 + stack[:, 2:3] * 0.114)
        probe = "L"
    spec["channels"] = probe
    mean = stack.mean(axis=(0, 2, 3), dtype=np.float64)
    std = stack.std(axis=(0, 2, 3), dtype=np.float64)
    spec["mean"] = [round(float(m), 6) for m in mean]
    spec["std"] = [round(float(s), 6) if s > 1e-6 else 1.0 for s in std]
    return spec


def auto_size(sizes) -> tuple[int, int]:
    """The most common (H, W), scaled so that the long side is at most MAX_AUTO_SIDE."""
    (h, w), _ = Counter(sizes).most_common(1)[0]
    long = max(h, w)
    if long > MAX_AUTO_SIDE:
        scale = MAX_AUTO_SIDE / long
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
    return int(h), int(w)


def _header(path: Path):
    """((H, W), mode) from the file's header, or None when Pillow cannot identify it."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):   # rotated by EXIF: sides swap
                w, h = h, w
            mode = im.mode
            if mode == "P":
                mode = "RGB" if _palette_has_colour(im) else "L"
            return (h, w), mode
    except Exception:  # noqa: BLE001 — any unreadable header is an unreadable image here
        return None


def _palette_has_colour(im) -> bool:
    pal = np.asarray(im.getpalette() or [], dtype=np.int16).reshape(-1, 3)
    return bool(len(pal)) and bool((np.ptp(pal, axis=1) > 0).any())


def _has_colour(stack: np.ndarray) -> bool:
    """Any pixel whose channels differ by more than JPEG's chroma noise."""
    rgb = stack[:, :3]
    return bool((rgb.max(axis=1) - rgb.min(axis=1) > 8 / 255).any())


def _pixels_or_none(path, spec):
    try:
        return image_decode.pixels(path, spec)
    except image_decode.ImageReadError:
        return None


def _threads(fn, items):
    items = list(items)
    if len(items) < 8:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2))) as pool:
        return list(pool.map(fn, items, chunksize=16))


# -- decoding -----------------------------------------------------------------------------

def decode_rows(df: pd.DataFrame, rows, column: str, base_dir: Path, spec: dict,
                corrupt: str = "skip", display: str | None = None
                ) -> tuple[torch.Tensor, list[int]]:
    """float32 (n, C, H, W) of the rows' images in order, and the rows left out (skip) —
    or a DataError naming the first unreadable file (refuse). `display` names base_dir in
    messages (default: its folder name)."""
    rows = list(rows)
    shown = display if display is not None else Path(base_dir).name
    c = image_decode.CHANNELS[spec["channels"]]
    h, w = int(spec["size"][0]), int(spec["size"][1])
    out = np.empty((len(rows), c, h, w), dtype=np.uint8)
    values = [str(df[column].iat[r]).strip() for r in rows]

    def one(i):
        try:
            out[i] = image_decode.pixels(resolve(values[i], base_dir), spec)
            return None
        except (image_decode.ImageReadError, OSError) as exc:
            return _reason(exc)

    errors = _threads(one, range(len(rows)))
    bad = [i for i, e in enumerate(errors) if e is not None]
    if bad and corrupt == "refuse":
        i = bad[0]
        raise DataError(f"cannot read the image ({errors[i]})", path=_shown(shown, values[i]))
    keep = np.array([i for i in range(len(rows)) if errors[i] is None], dtype=np.int64)
    x = torch.from_numpy(image_decode.normalise(out[keep] if bad else out, spec))
    return x, [rows[i] for i in bad]


def _reason(exc: Exception) -> str:
    """Pillow's reason without its byte counts: 'image file is truncated'."""
    text = re.sub(r"\s*\(\d+ bytes not processed\)", "", str(exc)).strip()
    return text or type(exc).__name__


def skipped_warning(df: pd.DataFrame, bad_rows, column: str, display: str) -> str:
    """One line naming the images left out: the first three and how many more."""
    names = [_shown(display, str(df[column].iat[r]).strip()) for r in bad_rows]
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    noun = "image" if len(names) == 1 else "images"
    return f"left out {len(names)} unreadable {noun}: {', '.join(names[:3])}{more}"


def _shown(display: str, value: str) -> str:
    return value if Path(value).is_absolute() or not display else f"{display}/{value}"


def thumbnails(df: pd.DataFrame, column: str, base_dir: Path, spec: dict, per_class: int,
               labels) -> list[tuple[str, str, np.ndarray]]:
    """(label, path as written, uint8 (C, H, W)) for the first `per_class` readable images of
    each class (classes sorted). `labels` is a column name or one label per row."""
    labels = df[labels] if isinstance(labels, str) else pd.Series(list(labels), index=df.index)
    labels = labels.astype(str).tolist()
    values = df[column].astype(str).str.strip().tolist()
    out = []
    for label in sorted(set(labels)):
        taken = 0
        for value, lab in zip(values, labels):
            if lab != label:
                continue
            a = _pixels_or_none(resolve(value, base_dir), spec)
            if a is not None:
                out.append((label, value, a))
                taken += 1
                if taken >= per_class:
                    break
    return out


# -- memory -------------------------------------------------------------------------------

CACHE_LIMIT = 4 << 30        # never cache more than this much, whatever the memory


def cache_bytes(n: int, spec: dict) -> int:
    """Bytes of n decoded float32 images."""
    c = image_decode.CHANNELS[spec["channels"]]
    return int(n) * c * int(spec["size"][0]) * int(spec["size"][1]) * 4


def should_stream(n: int, spec: dict, cache: str = "auto") -> bool:
    """Stream when asked, or (auto) when the decoded set would take over a quarter of the
    machine's memory (or CACHE_LIMIT)."""
    if cache == "stream":
        return True
    if cache == "memory":
        return False
    return cache_bytes(n, spec) > min(CACHE_LIMIT, _memory() // 4)


def _memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30
