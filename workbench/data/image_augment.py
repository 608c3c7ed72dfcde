"""Training-time augmentation of image batches, as batched tensor ops on the training device.

Why plain torch and not a library: six transforms fit in one module, the geometry (flips,
rotation, random resized crop) becomes ONE `affine_grid` + `grid_sample` call for the whole
batch, and nothing leaves the device. Every random number comes from the caller's
`torch.Generator` (drawn on the generator's device, then moved), so a seeded run is repeatable
and the global RNG is never touched.

Images are in normalised units ((pixel/255 - mean) / std), so 0 is the mean colour: the
padding a rotation or crop leaves and the square cutout erases are both 0.

`draw_params` and `apply_params` are split so a test (or the preview) can apply exact,
chosen parameters: a rotation by exactly 90 degrees must equal `torch.rot90`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_KEYS = ("flip", "vflip", "rotate", "crop", "jitter", "cutout")
GEOMETRY_KEYS = ("flip", "vflip", "rotate", "crop")
ASPECT = (3 / 4, 4 / 3)  # the random resized crop's aspect-ratio range (log-uniform)
GREY = (0.299, 0.587, 0.114)  # luma weights for the saturation blend


def _value(options: dict, key: str) -> float:
    return float(options.get(key, 0.0) or 0.0)


def is_off(options: dict) -> bool:
    """True when no image transform and no noise is on: the batch passes through untouched."""
    return all(_value(options, k) <= 0 for k in (*IMAGE_KEYS, "noise_std"))


def augment_images(x: torch.Tensor, options: dict, generator: torch.Generator) -> torch.Tensor:
    """x (N, C, H, W) float, normalised -> an augmented batch of the same shape, on x's device.

    Returns x itself when augmentation is off (no copy, no random number drawn)."""
    if is_off(options):
        return x
    if generator is None:
        raise ValueError("augment_images needs a torch.Generator (the global RNG is never used)")
    if x.dim() != 4 or not x.dtype.is_floating_point:
        raise ValueError(f"augment_images takes a float (N, C, H, W) batch, not "
                         f"{x.dtype} {tuple(x.shape)}")
    params = draw_params(x.shape, options, generator, x.device, x.dtype)
    return apply_params(x, params)


def _uniform(n, low, high, generator, device, dtype):
    r = torch.rand(n, generator=generator, device=generator.device, dtype=dtype)
    return (low + (high - low) * r).to(device)


def _chance(n, p, generator, device):
    return (torch.rand(n, generator=generator, device=generator.device) < p).to(device)


def draw_params(shape, options: dict, generator: torch.Generator, device,
                dtype=torch.float32) -> dict:
    """Per-sample parameters for the keys that are on; a key left out is not applied.

    flip, vflip, cutout: bool (N,); angle: degrees (N,), positive = counter-clockwise as shown;
    crop_w, crop_h: the kept fraction of the width/height (N,), crop_x, crop_y: the crop's
    centre in -1..1 coordinates (N,); brightness (added), contrast, saturation (factors) (N,);
    cut_y, cut_x: the cutout square's top-left pixel (N,) int64; noise: (N, C, H, W)."""
    n, c, h, w = (int(s) for s in shape)
    p: dict = {}
    g = generator
    if _value(options, "flip") > 0:
        p["flip"] = _chance(n, _value(options, "flip"), g, device)
    if _value(options, "vflip") > 0:
        p["vflip"] = _chance(n, _value(options, "vflip"), g, device)
    rotate = min(_value(options, "rotate"), 180.0)
    if rotate > 0:
        p["angle"] = _uniform(n, -rotate, rotate, g, device, dtype)
    crop = min(_value(options, "crop"), 0.9)
    if crop > 0:
        area = _uniform(n, 1.0 - crop, 1.0, g, device, dtype)
        ratio = torch.exp(_uniform(n, math.log(ASPECT[0]), math.log(ASPECT[1]), g, device, dtype))
        cw = torch.sqrt(area * ratio).clamp(max=1.0)
        ch = torch.sqrt(area / ratio).clamp(max=1.0)
        p["crop_w"], p["crop_h"] = cw, ch
        # the centre anywhere that keeps the crop inside the picture
        p["crop_x"] = (1 - cw) * _uniform(n, -1.0, 1.0, g, device, dtype)
        p["crop_y"] = (1 - ch) * _uniform(n, -1.0, 1.0, g, device, dtype)
    jitter = min(_value(options, "jitter"), 1.0)
    if jitter > 0:
        p["brightness"] = _uniform(n, -jitter, jitter, g, device, dtype)
        p["contrast"] = 1 + _uniform(n, -jitter, jitter, g, device, dtype)
        if c >= 3:
            p["saturation"] = 1 + _uniform(n, -jitter, jitter, g, device, dtype)
    noise = _value(options, "noise_std")
    if noise > 0:
        draw = torch.randn((n, c, h, w), generator=g, device=g.device, dtype=dtype)
        p["noise"] = draw.to(device) * noise
    side = min(h, w) // 4
    if _value(options, "cutout") > 0 and side > 0:
        p["cutout"] = _chance(n, _value(options, "cutout"), g, device)
        p["cut_y"] = _integers(n, h - side + 1, g, device)
        p["cut_x"] = _integers(n, w - side + 1, g, device)
    return p


def _integers(n, high, generator, device):
    return torch.randint(0, high, (n,), generator=generator, device=generator.device).to(device)


def apply_params(x: torch.Tensor, p: dict) -> torch.Tensor:
    """The batch with the given per-sample parameters applied: geometry, colour, noise, cutout."""
    out = x
    if any(k in p for k in ("angle", "crop_w")):
        out = _warp(out, p)
    elif "flip" in p or "vflip" in p:
        out = _flips(out, p)  # flips alone: exact pixel moves, no resampling
    if "brightness" in p:
        out = _jitter(out, p)
    if "noise" in p:
        out = out + p["noise"]
    if "cutout" in p:
        out = _cutout(out, p)
    return out


def _flips(x, p):
    n = x.shape[0]
    if "flip" in p:
        x = torch.where(p["flip"].view(n, 1, 1, 1), x.flip(-1), x)
    if "vflip" in p:
        x = torch.where(p["vflip"].view(n, 1, 1, 1), x.flip(-2), x)
    return x


def _warp(x, p):
    """Flip, rotation and crop as one affine map per sample: output coordinates u in -1..1
    sample the input at  centre + D · R · S · u  (S: flips, R: rotation in pixel space, D: the
    crop's size), then one grid_sample for the batch; outside the picture reads 0 (the mean)."""
    n, _, h, w = x.shape
    dev, dt = x.device, x.dtype
    one = torch.ones(n, device=dev, dtype=dt)
    sx = torch.where(p["flip"], -one, one) if "flip" in p else one
    sy = torch.where(p["vflip"], -one, one) if "vflip" in p else one
    if "angle" in p:
        t = torch.deg2rad(p["angle"].to(dt))
        cos, sin = torch.cos(t), torch.sin(t)
    else:
        cos, sin = one, torch.zeros_like(one)
    # The picture turns counter-clockwise on screen (y grows downwards), so each output pixel
    # offset q samples the input at [[cos, -sin], [sin, cos]] q; in -1..1 units that is
    # diag(2/W, 2/H) · that · diag(W/2, H/2).
    a = h / w
    r00, r01 = cos, -sin * a
    r10, r11 = sin / a, cos
    cw = p.get("crop_w", one)
    ch = p.get("crop_h", one)
    theta = torch.stack([
        torch.stack([cw * r00 * sx, cw * r01 * sy, p.get("crop_x", 0 * one)], -1),
        torch.stack([ch * r10 * sx, ch * r11 * sy, p.get("crop_y", 0 * one)], -1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _jitter(x, p):
    """Brightness (added), contrast (scaled about each image's per-channel mean) and, for 3+
    channels, saturation (blend with the greyscale); an alpha channel is left alone."""
    n, c = x.shape[:2]
    colour = x[:, :3] if c == 4 else x
    colour = colour + p["brightness"].view(n, 1, 1, 1)
    mean = colour.mean(dim=(2, 3), keepdim=True)
    colour = mean + (colour - mean) * p["contrast"].view(n, 1, 1, 1)
    if "saturation" in p and colour.shape[1] >= 3:
        weights = torch.tensor(GREY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        grey = (colour[:, :3] * weights).sum(1, keepdim=True)
        colour = grey + (colour - grey) * p["saturation"].view(n, 1, 1, 1)
    return torch.cat([colour, x[:, 3:]], 1) if c == 4 else colour


def _cutout(x, p):
    n, _, h, w = x.shape
    side = min(h, w) // 4
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    y0, x0 = p["cut_y"].view(n, 1, 1), p["cut_x"].view(n, 1, 1)
    mask = (rows >= y0) & (rows < y0 + side) & (cols >= x0) & (cols < x0 + side)
    mask = mask & p["cutout"].view(n, 1, 1)
    return x.masked_fill(mask.unsqueeze(1), 0.0)


def preview_grid(images, options: dict, seed: int, copies: int, mean=None, std=None
                 ) -> np.ndarray:
    """What the model will see: float32 (K, copies, C, H, W) in 0..1 pixel units, copy 0 the
    original, the others augmented with a generator seeded by `seed`.

    images: uint8 (K, C, H, W), or float in 0..1. They are normalised with `mean`/`std` (per
    channel, 0..1 units; default: the images' own), so padding, jitter strengths and noise
    act in the same units as in training, then mapped back and clipped for display."""
    a = np.asarray(images)
    x = torch.from_numpy(a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0))
    k, c, h, w = x.shape
    m = x.mean(dim=(0, 2, 3)) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
    s = x.std(dim=(0, 2, 3)) if std is None else torch.as_tensor(std, dtype=torch.float32)
    m, s = m.view(1, c, 1, 1), s.clamp(min=1e-3).view(1, c, 1, 1)
    out = x.unsqueeze(1).repeat(1, max(int(copies), 1), 1, 1, 1)
    if copies > 1 and not is_off(options):
        g = torch.Generator().manual_seed(int(seed))
        batch = ((x - m) / s).repeat_interleave(copies - 1, 0)
        seen = augment_images(batch, options, g) * s + m
        out[:, 1:] = seen.view(k, copies - 1, c, h, w).clamp(0.0, 1.0)
    return out.numpy()
