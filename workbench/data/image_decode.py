"""One image file -> one normalised (C, H, W) float32 array, with Pillow and numpy only.

This module imports nothing from Workbench: the bundle's `predict.py` carries its source
verbatim, so a deployed model resizes and normalises exactly as training did, without torch.

The image entry of preprocessing.json (`spec`) holds what is needed:
    size      [H, W]         the model's input size
    mode      resize | crop | pad
              resize: stretch to H×W; crop: scale the short side to fit, cut the centre;
              pad: scale the long side to fit, pad the rest with black
    channels  L | RGB | RGBA (the model's channel count: 1, 3 or 4)
    mean, std one value per channel, in 0..1 pixel units (fitted on the training images)
"""
import numpy as np
from PIL import Image, ImageOps

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
MODES = ("resize", "crop", "pad")
CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4}


class ImageReadError(Exception):
    """The file is not an image Pillow can decode (corrupt, truncated, another format)."""


def open_image(path, channels):
    """The decoded picture in `channels` mode (EXIF rotation applied). Raises ImageReadError."""
    try:
        with Image.open(path) as im:
            im.load()  # the whole file: a truncated image fails here, not in a training batch
            im = ImageOps.exif_transpose(im)
            if channels == "RGB" and im.mode in ("RGBA", "LA", "PA") or \
                    channels == "RGB" and im.mode == "P" and "transparency" in im.info:
                # transparency composed on black, not on whatever colour the hidden pixels hold
                im = im.convert("RGBA")
                back = Image.new("RGBA", im.size, (0, 0, 0, 255))
                im = Image.alpha_composite(back, im)
            return im.convert(channels)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow raises OSError for truncated/corrupt data, UnidentifiedImageError (an OSError)
        # for other formats, SyntaxError from some plugins for malformed headers
        reason = str(exc).strip() or type(exc).__name__
        raise ImageReadError(reason) from None


def fit_size(im, size, mode):
    """The picture at size (H, W) by the resize mode."""
    h, w = int(size[0]), int(size[1])
    if mode == "resize":
        return im.resize((w, h), Image.Resampling.BILINEAR)
    if mode == "crop":
        return ImageOps.fit(im, (w, h), Image.Resampling.BILINEAR)
    if mode == "pad":
        return ImageOps.pad(im, (w, h), Image.Resampling.BILINEAR, color=0)
    raise ValueError(f"resize mode must be one of {', '.join(MODES)}, not {mode!r}")


def pixels(path, spec):
    """uint8 (C, H, W): the file decoded and sized, not yet normalised (thumbnails, caches)."""
    im = fit_size(open_image(path, spec["channels"]), spec["size"], spec["mode"])
    a = np.asarray(im, dtype=np.uint8)
    return a[None] if a.ndim == 2 else np.ascontiguousarray(a.transpose(2, 0, 1))


def normalise(a, spec):
    """uint8 (..., C, H, W) -> float32 in the model's units: (pixel/255 - mean) / std."""
    mean = np.asarray(spec["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec["std"], dtype=np.float32).reshape(-1, 1, 1)
    return (a.astype(np.float32) / np.float32(255.0) - mean) / std


def load(path, spec):
    """float32 (C, H, W) as the model takes it."""
    return normalise(pixels(path, spec), spec)
