"""Image augmentation as batched tensor ops: off is the identity, seeded draws repeat, and each
transform, given exact parameters, does exactly what it says (rotation vs torch.rot90, crop vs
interpolate, cutout's square)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.data.image_augment import (apply_params, augment_images, draw_params, is_off,
                                          preview_grid)
from workbench.data.settings import AUGMENT_DEFAULTS


def batch(n=8, c=3, h=16, w=16, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def gen(seed=1):
    return torch.Generator().manual_seed(seed)


def options(**on):
    return {**AUGMENT_DEFAULTS, **on}


def test_off_returns_the_same_object_and_draws_nothing():
    x = batch()
    g = gen()
    state = g.get_state()
    assert is_off(AUGMENT_DEFAULTS)
    assert augment_images(x, options(), g) is x
    assert torch.equal(g.get_state(), state)
    # token_dropout is not an image key: still off for images
    assert augment_images(x, options(token_dropout=0.5), g) is x


def test_seed_repeats_other_seed_differs_and_global_rng_untouched():
    x = batch()
    opts = options(flip=0.5, vflip=0.5, rotate=30, crop=0.3, jitter=0.4, cutout=0.5,
                   noise_std=0.1)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = augment_images(x, opts, gen(7))
    b = augment_images(x, opts, gen(7))
    c = augment_images(x, opts, gen(8))
    assert torch.equal(torch.get_rng_state(), before)
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a, x)


def test_flip_one_is_torch_flip_both_fast_and_fused_paths():
    x = batch()
    assert torch.equal(augment_images(x, options(flip=1.0), gen()), x.flip(-1))
    assert torch.equal(augment_images(x, options(vflip=1.0), gen()), x.flip(-2))
    # flips through the one grid_sample (with a zero-degree rotation) agree with torch.flip
    n = x.shape[0]
    p = {"flip": torch.ones(n, dtype=torch.bool), "angle": torch.zeros(n)}
    torch.testing.assert_close(apply_params(x, p), x.flip(-1), atol=1e-5, rtol=0)


def test_flip_probability_flips_some_samples_not_others():
    x = batch(n=64)
    y = augment_images(x, options(flip=0.5), gen(3))
    flipped = [bool(torch.equal(y[i], x[i].flip(-1))) for i in range(64)]
    kept = [bool(torch.equal(y[i], x[i])) for i in range(64)]
    assert all(f != k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48


def test_rotation_by_exactly_90_degrees_is_rot90_counter_clockwise():
    x = batch(n=2, h=9, w=9)
    p = {"angle": torch.tensor([90.0, -90.0])}
    y = apply_params(x, p)
    torch.testing.assert_close(y[0], torch.rot90(x[0], 1, (1, 2)), atol=1e-4, rtol=0)
    torch.testing.assert_close(y[1], torch.rot90(x[1], -1, (1, 2)), atol=1e-4, rtol=0)
    # 180 degrees on a non-square picture: both flips (the aspect ratio is respected)
    x = batch(n=1, h=6, w=10)
    torch.testing.assert_close(apply_params(x, {"angle": torch.tensor([180.0])}),
                               x.flip(-1).flip(-2), atol=1e-4, rtol=0)


def test_rotation_pads_with_zero_the_mean_and_stays_in_range():
    x = torch.ones(16, 1, 12, 12)
    y = augment_images(x, options(rotate=45), gen())
    angles = draw_params(x.shape, options(rotate=45), gen(), "cpu")["angle"]
    assert float(angles.abs().max()) <= 45
    assert float(angles.abs().max()) > 10
    tilted = angles.abs() > 20
    corners = y[:, 0, 0, 0]
    assert torch.all(corners[tilted] == 0)  # a tilted picture's corner reads the padding
    assert float(y.max()) <= 1 + 1e-5 and float(y.min()) >= 0


def test_crop_keeps_the_shape_and_a_centre_crop_is_the_centre_upscaled():
    x = batch(n=4, h=8, w=8)
    y = augment_images(x, options(crop=0.5), gen())
    assert y.shape == x.shape
    p = draw_params(x.shape, options(crop=0.5), gen(), "cpu")
    area = p["crop_w"] * p["crop_h"]
    assert torch.all(area >= 0.5 - 1e-6) and torch.all(area <= 1 + 1e-6)
    assert torch.all(p["crop_x"].abs() <= 1 - p["crop_w"] + 1e-6)
    # the centre half, upscaled back: bilinear interpolation of x[2:6, 2:6] (inside the border)
    half = {"crop_w": torch.full((4,), 0.5), "crop_h": torch.full((4,), 0.5),
            "crop_x": torch.zeros(4), "crop_y": torch.zeros(4)}
    want = F.interpolate(x[:, :, 2:6, 2:6], size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(apply_params(x, half)[:, :, 1:-1, 1:-1], want[:, :, 1:-1, 1:-1],
                               atol=1e-5, rtol=0)


def test_jitter_changes_brightness_contrast_and_saturation_within_bounds():
    x = batch(n=32, c=3)
    j = 0.3
    p = draw_params(x.shape, options(jitter=j), gen(), "cpu")
    assert float(p["brightness"].abs().max()) <= j
    assert float((p["contrast"] - 1).abs().max()) <= j
    assert float((p["saturation"] - 1).abs().max()) <= j
    y = apply_params(x, p)
    # brightness moves each image's mean by exactly the drawn amount (contrast keeps the mean;
    # saturation moves it by at most its own blend)
    only_b = apply_params(x, {"brightness": p["brightness"], "contrast": torch.ones(32)})
    torch.testing.assert_close(only_b.mean((1, 2, 3)) - x.mean((1, 2, 3)), p["brightness"],
                               atol=1e-5, rtol=0)
    # contrast scales each channel's spread by the factor
    only_c = apply_params(x, {"brightness": torch.zeros(32), "contrast": p["contrast"]})
    ratio = only_c.std((2, 3)) / x.std((2, 3))
    torch.testing.assert_close(ratio, p["contrast"].view(32, 1).expand(32, 3), atol=1e-4, rtol=0)
    assert not torch.allclose(y, x)
    # saturation 0 leaves a grey picture: all colour channels equal
    grey = apply_params(x, {"brightness": torch.zeros(32), "contrast": torch.ones(32),
                            "saturation": torch.zeros(32)})
    torch.testing.assert_close(grey[:, 0], grey[:, 1])
    torch.testing.assert_close(grey[:, 1], grey[:, 2])


def test_jitter_on_greyscale_and_rgba_leaves_alpha_alone():
    grey = batch(c=1)
    assert "saturation" not in draw_params(grey.shape, options(jitter=0.5), gen(), "cpu")
    assert augment_images(grey, options(jitter=0.5), gen()).shape == grey.shape
    rgba = batch(c=4)
    y = augment_images(rgba, options(jitter=0.5), gen())
    assert torch.equal(y[:, 3], rgba[:, 3])
    assert not torch.allclose(y[:, :3], rgba[:, :3])


def test_cutout_zeroes_one_square_a_quarter_of_the_short_side():
    x = torch.ones(6, 3, 20, 16)
    y = augment_images(x, options(cutout=1.0), gen())
    side = 16 // 4
    for i in range(6):
        zero = (y[i] == 0).all(0)
        rows, cols = torch.nonzero(zero, as_tuple=True)
        assert int(zero.sum()) == side * side
        assert int(rows.max() - rows.min()) + 1 == side
        assert int(cols.max() - cols.min()) + 1 == side
        assert torch.all(y[i][:, ~zero] == 1)
    # probability 0 < p < 1: some images keep every pixel
    x = torch.ones(40, 1, 8, 8)
    y = augment_images(x, options(cutout=0.5), gen())
    erased = (y == 0).flatten(1).any(1)
    assert 5 < int(erased.sum()) < 35


def test_noise_has_the_given_spread():
    x = torch.zeros(8, 3, 32, 32)
    y = augment_images(x, options(noise_std=0.2), gen())
    assert abs(float(y.std()) - 0.2) < 0.01


def test_rejects_no_generator_and_non_image_batches():
    with pytest.raises(ValueError, match="Generator"):
        augment_images(batch(), options(flip=0.5), None)
    with pytest.raises(ValueError, match=r"float \(N, C, H, W\)"):
        augment_images(torch.zeros(4, 10), options(flip=0.5), gen())


def test_preview_grid_copy_zero_is_the_original_and_the_seed_redraws():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 3, 12, 12), dtype=np.uint8)
    opts = options(flip=0.5, rotate=20, jitter=0.3, cutout=0.5)
    a = preview_grid(images, opts, seed=1, copies=4)
    assert a.shape == (3, 4, 3, 12, 12) and a.dtype == np.float32
    np.testing.assert_allclose(a[:, 0], images / 255.0, atol=1e-6)
    assert a.min() >= 0 and a.max() <= 1
    b = preview_grid(images, opts, seed=1, copies=4)
    c = preview_grid(images, opts, seed=2, copies=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:, 1:], c[:, 1:])
    np.testing.assert_array_equal(a[:, 0], c[:, 0])
    # everything off: every copy is the original
    off = preview_grid(images, options(), seed=1, copies=3)
    np.testing.assert_allclose(off[:, 2], images / 255.0, atol=1e-6)
    # a horizontal flip in the preview is a flip of the 0..1 picture
    flip = preview_grid(images, options(flip=1.0), seed=1, copies=2)
    np.testing.assert_allclose(flip[:, 1], images[..., ::-1] / 255.0, atol=1e-5)
