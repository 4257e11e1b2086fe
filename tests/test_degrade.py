"""Tests of digitgen.degrade: each degradation's effect, probabilities, determinism, dtype and shape."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.degrade import degrade
from digitgen.errors import ParamsError
from digitgen.params.all import parse_params
from digitgen.params.core import build_section
from digitgen.params.degrade import DegradeParams


def _params(**sections) -> DegradeParams:
    return build_section(DegradeParams, sections, "degrade")


@pytest.fixture
def strokes() -> np.ndarray:
    images = np.zeros((64, 28, 60), np.uint8)
    images[:, 6:22, 10:14] = 255
    images[:, 6:22, 30:34] = 160
    return images


def test_no_degradation_returns_the_images_and_draws_nothing(strokes):
    rng = np.random.default_rng(0)
    assert degrade(strokes, DegradeParams(), rng) is strokes
    assert rng.random() == np.random.default_rng(0).random()


def test_invert_is_exact(strokes):
    out = degrade(strokes, _params(invert={"p": 1.0}), np.random.default_rng(0))
    np.testing.assert_array_equal(out, 255 - strokes)


@pytest.mark.parametrize("factor", [0.5, 0.8])
def test_contrast_shrinks_the_range_about_mid_grey(strokes, factor):
    out = degrade(strokes, _params(contrast={"p": 1.0, "factor": [factor, factor]}), np.random.default_rng(0))
    expected = np.clip(np.rint(127.5 + (strokes.astype(np.float64) - 127.5) * factor), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_gamma_follows_its_formula(strokes):
    out = degrade(strokes, _params(gamma={"p": 1.0, "gamma": [2.0, 2.0]}), np.random.default_rng(0))
    np.testing.assert_array_equal(out, np.rint(255 * (strokes / 255.0) ** 2).astype(np.uint8))


def test_a_flat_background_lifts_the_ground_and_keeps_full_ink(strokes):
    out = degrade(strokes, _params(background={"p": 1.0, "kinds": ["flat"], "level": [60, 60]}), np.random.default_rng(0))
    assert np.all(out[strokes == 0] == 60) and np.all(out[strokes == 255] == 255)
    assert np.all(out[strokes == 160] == np.rint(60 + 195 * 160 / 255))


@pytest.mark.parametrize("kind", ["noise", "paper"])
def test_textured_backgrounds_vary_smoothly_within_their_level(strokes, kind):
    out = degrade(strokes, _params(background={"p": 1.0, "kinds": [kind], "level": [80, 80]}), np.random.default_rng(0))
    ground = out[:, :, 40:].astype(np.float64)  # no ink there
    assert ground.max() <= 80 and ground.std() > 2
    assert np.all(out[strokes == 255] == 255)
    if kind == "noise":  # smooth: neighbours differ far less than random pixels would
        assert np.abs(np.diff(ground, axis=2)).mean() < 0.2 * ground.std()


def test_blur_spreads_ink_and_keeps_its_mass(strokes):
    out = degrade(strokes, _params(blur={"p": 1.0, "sigma": [1.0, 1.0]}), np.random.default_rng(0))
    assert out[0, 12, 9] > 0 and out[0, 12, 15] > 0 and out[0, 12, 11] < 255
    assert abs(out.astype(np.float64).sum() - strokes.astype(np.float64).sum()) / strokes.sum() < 0.01


def test_noise_has_the_drawn_standard_deviation(strokes):
    flat = np.full((16, 28, 200), 128, np.uint8)
    out = degrade(flat, _params(noise={"p": 1.0, "std": [10, 10]}), np.random.default_rng(0))
    assert abs(out.astype(np.float64).std() - 10) < 0.3 and abs(out.mean() - 128) < 0.5


def test_probability_applies_per_image(strokes):
    out = degrade(np.repeat(strokes, 8, axis=0), _params(invert={"p": 0.25}), np.random.default_rng(0))
    inverted = (out[:, 0, 0] == 255).mean()
    assert 0.18 < inverted < 0.32


def test_every_degradation_at_once_is_deterministic_and_keeps_dtype_and_shape(strokes):
    params = _params(**{name: {"p": 0.7} for name in ("background", "blur", "contrast", "gamma", "noise", "invert")})
    first = degrade(strokes, params, np.random.default_rng(5))
    again = degrade(strokes, params, np.random.default_rng(5))
    other = degrade(strokes, params, np.random.default_rng(6))
    assert first.dtype == np.uint8 and first.shape == strokes.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert strokes[:, 6:22, 10:14].min() == 255  # the input is not modified


@pytest.mark.parametrize(
    ("degrade_params", "message"),
    [
        ({"noise": {"p": 1.5}}, r"sequences.degrade.noise.p == 1.5, must be a probability in \[0, 1\]"),
        ({"blur": {"sigma": [2, 1]}}, r"sequences.degrade.blur.sigma == \[2.0, 1.0\], must be a range \[min, max\] with min <= max"),
        ({"background": {"kinds": ["wood"]}}, r"sequences.degrade.background.kinds\[0\] == 'wood', must be one of \['flat', 'noise', 'paper'\]"),
        ({"gamma": {"gamma": [0, 2]}}, r"sequences.degrade.gamma.gamma\[0\] == 0, must be a number in \[0.1, 10\]"),
    ],
)
def test_bad_degradations_are_refused_naming_the_key(degrade_params, message):
    with pytest.raises(ParamsError, match=message):
        parse_params({"sequences": {"degrade": degrade_params}})
