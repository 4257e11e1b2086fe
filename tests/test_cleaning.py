"""Tests of digitgen.cleaning: each level does what it claims, image by image."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.cleaning import bilateral, clean_digits
from digitgen.constants import CLEANING_LEVELS


def stroke_image(gap: bool = False, speck: bool = False, haze: float = 0.0, ink: float = 1.0) -> np.ndarray:
    """float32 (28, 28): a horizontal stroke 3 px thick (rows 12-14, columns 5-22), optionally broken,
    a faint uniform haze, and an isolated 2x2 speck in a corner."""
    image = np.full((28, 28), haze, dtype=np.float32)
    image[12:15, 5:23] = ink
    if gap:
        image[12:15, 14] = haze  # a one-pixel break across the stroke
    if speck:
        image[2:4, 2:4] = ink
    return image


def test_levels_return_uint8_of_the_same_shape_and_keep_blank_images_blank():
    images = np.stack([stroke_image(haze=0.1, speck=True), np.zeros((28, 28), np.float32)])
    for level in CLEANING_LEVELS:
        out = clean_digits(images, level)
        assert out.dtype == np.uint8 and out.shape == (2, 28, 28)
        assert not out[1].any(), level


def test_none_only_clips_and_rounds():
    image = np.array([[[-0.5, 0.0, 0.5, 1.0, 2.0]]], dtype=np.float32)
    np.testing.assert_array_equal(clean_digits(image, "none"), [[[0, 0, 128, 255, 255]]])
    as_uint8 = np.arange(0, 250, 10, dtype=np.uint8).reshape(1, 5, 5)
    np.testing.assert_array_equal(clean_digits(as_uint8, "none"), as_uint8)


def test_light_removes_haze_and_stretches_each_image_to_full_ink():
    faint = stroke_image(haze=0.1, ink=0.6)  # haze at 1/6 of this image's peak
    out = clean_digits(faint[None], "light")[0]
    assert out[12:15, 5:23].min() == 255  # stretched by the image's own maximum
    assert out[0:10].max() == 0 and out[16:].max() == 0  # haze is gone
    none = clean_digits(faint[None], "none")[0]
    assert none[0, 0] == 26 and none[13, 10] == 153  # and is really there without cleaning


def test_threshold_ramp_is_continuous():
    ramp = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(1, 28, 28)
    out = clean_digits(ramp, "light", threshold=0.25).astype(int).ravel()
    assert out[ramp.ravel() < 0.25].max() == 0
    assert out.max() == 255 and np.all(np.diff(out) >= 0) and np.diff(out).max() <= 1


@pytest.mark.parametrize("level", CLEANING_LEVELS)
def test_cleaning_is_per_image_whatever_else_is_in_the_batch(level):
    dim = stroke_image(haze=0.05, ink=0.4, speck=True, gap=True)
    bright = np.random.default_rng(0).random((28, 28)).astype(np.float32) * 3
    alone = clean_digits(dim[None], level)
    together = clean_digits(np.stack([bright, dim, bright]), level)
    np.testing.assert_array_equal(together[1], alone[0])


def test_medium_removes_an_isolated_speck_that_light_keeps():
    image = stroke_image(speck=True)[None]
    assert clean_digits(image, "light")[0, 2:4, 2:4].min() == 255
    medium = clean_digits(image, "medium")[0]
    assert medium[2:4, 2:4].max() == 0
    np.testing.assert_array_equal(medium[12:15, 5:23], 255)  # the stroke stays


def test_medium_keeps_components_of_min_size_and_always_the_largest():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 5:8, 5:8] = 1.0  # 9 pixels
    image[0, 20:22, 20:22] = 1.0  # 4 pixels
    out = clean_digits(image, "medium", min_size=9)[0]
    assert out[5:8, 5:8].min() == 255 and out[20:22, 20:22].max() == 0
    tiny = np.zeros((1, 28, 28), np.float32)
    tiny[0, 10, 10:13] = 1.0  # only 3 pixels: the largest component of its image
    assert clean_digits(tiny, "medium", min_size=9)[0, 10, 10:13].min() == 255


def test_components_are_eight_connected():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, np.arange(10, 16), np.arange(10, 16)] = 1.0  # a diagonal line of 6 pixels
    image[0, 2:6, 2:6] = 1.0  # the largest component (16 pixels)
    out = clean_digits(image, "medium", min_size=6)[0]
    assert out[np.arange(10, 16), np.arange(10, 16)].min() == 255


def test_aggressive_closes_a_one_pixel_gap_that_medium_leaves_open():
    image = stroke_image(gap=True)[None]
    assert clean_digits(image, "medium")[0, 12:15, 14].max() == 0
    closed = clean_digits(image, "aggressive")[0]
    assert closed[12:15, 14].min() >= 200
    assert closed[0:9].max() == 0 and closed[18:].max() == 0  # nothing grows away from the stroke


def test_aggressive_also_removes_specks():
    assert clean_digits(stroke_image(speck=True)[None], "aggressive")[0, 2:4, 2:4].max() == 0


def test_bilateral_smooths_flat_regions_and_keeps_edges():
    rng = np.random.default_rng(1)
    step = np.zeros((1, 28, 28), np.float32)
    step[0, :, 14:] = 0.8
    noisy = np.clip(step + rng.normal(0, 0.03, step.shape).astype(np.float32), 0, 1)
    smooth = bilateral(noisy, sigma_color=0.1, sigma_spatial=1.0)
    assert smooth.dtype == np.float32
    inner = (slice(None), slice(3, 25), slice(17, 25))
    assert smooth[inner].std() < 0.6 * noisy[inner].std()
    assert smooth[0, 3:25, 15].mean() - smooth[0, 3:25, 12].mean() > 0.7  # the edge stays sharp


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "heavy"}, r"^cleaning == 'heavy', must be one of \['none', 'light', 'medium', 'aggressive'\]\.$"),
        ({"level": "light", "threshold": 1.0}, r"^threshold == 1.0, must be a number in \[0, 1\)\.$"),
        ({"level": "medium", "min_size": 0}, r"^min_size == 0, must be an integer >= 1\.$"),
        ({"level": "aggressive", "sigma_color": 0}, r"^sigma_color == 0, must be a number > 0\.$"),
        ({"level": "aggressive", "sigma_spatial": -1.0}, r"^sigma_spatial == -1.0, must be a number > 0\.$"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        clean_digits(np.zeros((1, 28, 28), np.float32), **kwargs)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n, H, W\), got \(28, 28\)"):
        clean_digits(np.zeros((28, 28)), "light")
    with pytest.raises(ValueError, match="uint8 or float, got int64"):
        clean_digits(np.zeros((1, 28, 28), np.int64), "light")
    with pytest.raises(ValueError, match="NaN"):
        clean_digits(np.full((1, 28, 28), np.nan), "light")
