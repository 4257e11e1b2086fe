"""Tests of digitgen.layout and the Python API's layout options (digitgen.sequence.compose_sequence)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import render_digits

from digitgen.bank import DigitBank
from digitgen.compose import compose_batch
from digitgen.degrade import degrade
from digitgen.errors import InputError
from digitgen.layout import Layout, describe, lay_out
from digitgen.params.degrade import BlurParams, DegradeParams, NoiseParams
from digitgen.params.digit import DigitParams
from digitgen.sequence import compose_sequence


@pytest.fixture(scope="module")
def bank():
    labels = np.arange(10).repeat(4).astype(np.int16)
    return DigitBank("real", render_digits(labels, seed=2), labels)


def test_defaults_are_exactly_the_composer(bank):
    index = np.arange(40).reshape(8, 5)
    index[3, 2:] = -1
    plain = compose_batch(bank.images, index, (0, 8), 200, rng=np.random.default_rng(3))
    laid = lay_out(bank.images, index, Layout((0, 8), 200), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(laid.images, plain.images)
    np.testing.assert_array_equal(laid.boxes, plain.boxes)
    assert describe(Layout((0, 8), 200)) == []


def test_every_option_gives_the_height_asked_and_boxes_holding_ink(bank):
    layout = Layout(
        (0, 8), 360, digit=DigitParams(scale=(0.8, 1.3), rotation=15.0, shear=10.0, offset_y=3.0, thickness=1.0), height=48,
    )
    index = np.arange(40).reshape(8, 5)
    laid = lay_out(bank.images, index, layout, rng=np.random.default_rng(0), variation_rng=np.random.default_rng(1))
    assert laid.images.shape == (8, 48, 360) and laid.boxes.dtype == np.int16
    for b in range(8):
        for x0, y0, x1, y1 in laid.boxes[b]:
            assert 0 <= x0 < x1 <= 360 and 0 <= y0 < y1 <= 48
            assert laid.images[b, y0:y1, x0:x1].any()
    assert describe(layout) == ["scale 0.8-1.3", "rotation ±15 deg", "shear ±10 deg", "offset_y ±3 px", "thickness ±1 px", "height 48 px"]


def test_a_tight_image_at_another_height_keeps_the_aspect(bank):
    laid = lay_out(bank.images, np.arange(3)[None, :], Layout((2, 2), None, height=56), rng=np.random.default_rng(0))
    assert laid.images.shape == (1, 56, 2 * (3 * 28 + 2 * 2))


def test_the_api_takes_the_layout_options_of_params(bank):
    image = compose_sequence("2934", (0, 6), 300, bank=bank, rng=5, height=40, digit={"rotation": 10, "scale": [0.9, 1.1]},
                             degrade={"invert": {"p": 1}})
    assert image.shape == (40, 300) and image.dtype == np.float32
    assert image[0, 0] == 1.0  # inverted: 1 = background
    plain = compose_sequence("2934", (0, 6), 200, bank=bank, rng=5)
    assert plain.shape == (28, 200)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"height": 7}, InputError, r"height == 7, must be an integer in 8..512"),
        ({"digit": {"scale": [1.2, 0.9]}}, InputError, r"digit.scale == \[1.2, 0.9\], must be a range \[min, max\] with min <= max"),
        ({"digit": {"shear": 70}}, InputError, r"digit.shear == 70, must be a number of degrees in \[0, 60\]"),
        ({"degrade": {"noise": {"p": -0.1}}}, InputError, r"degrade.noise.p == -0.1, must be a probability in \[0, 1\]"),
        ({"height": 64}, InputError, r"at height 64: the minimum width is 324"),
    ],
)
def test_the_api_refuses_bad_layout_options(bank, options, error, message):
    with pytest.raises(error, match=message):
        compose_sequence("2934", (0, 10), 200, bank=bank, rng=0, **options)


def test_degradations_come_after_the_height_resampling(bank):
    blur = DegradeParams(blur=BlurParams(p=1.0), noise=NoiseParams(p=1.0))
    index = np.arange(4)[None, :].repeat(3, axis=0)
    first = np.random.default_rng(0)
    plain = lay_out(bank.images, index, Layout((0, 4), 200, height=40), rng=first)
    laid = lay_out(bank.images, index, Layout((0, 4), 200, height=40, degrade=blur), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(laid.images, degrade(plain.images, blur, first))
    np.testing.assert_array_equal(laid.boxes, plain.boxes)
