"""Tests of digitgen.transform: per-digit variation against a per-pixel reference, boxes = extent of the ink."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import render_digits

from digitgen.compose import ink_extents
from digitgen.params.digit import DigitParams
from digitgen.transform import (
    draw_variation,
    inverse_maps,
    is_active,
    overhang,
    transform_digits,
)


def reference_cell(image, inverse, reach):
    """Per-pixel bilinear sampling of one digit's inverse map at every output pixel centre (zeros outside)."""
    width = 28 + 2 * reach
    out = np.zeros((28, width))
    padded = np.zeros((32, 32))
    padded[2:30, 2:30] = image
    for row in range(28):
        for col in range(width):
            qx, qy = col - reach + 0.5, row + 0.5
            sx = inverse[0, 0] * qx + inverse[0, 1] * qy + inverse[0, 2] - 0.5 + 2
            sy = inverse[1, 0] * qx + inverse[1, 1] * qy + inverse[1, 2] - 0.5 + 2
            if not (0 <= sx < 31 and 0 <= sy < 31):
                continue
            x0, y0 = int(sx), int(sy)
            fx, fy = sx - x0, sy - y0
            top = padded[y0, x0] * (1 - fx) + padded[y0, x0 + 1] * fx
            bottom = padded[y0 + 1, x0] * (1 - fx) + padded[y0 + 1, x0 + 1] * fx
            out[row, col] = top * (1 - fy) + bottom * fy
    return out


@pytest.fixture(scope="module")
def digits():
    return render_digits(np.arange(10).repeat(2), seed=3)


def test_defaults_change_nothing():
    assert not is_active(DigitParams())
    assert overhang(DigitParams()) == 0
    assert is_active(DigitParams(rotation=1.0)) and is_active(DigitParams(scale=(0.9, 1.0)))


def test_the_resampling_matches_a_per_pixel_reference(digits):
    params = DigitParams(scale=(0.7, 0.9), rotation=20.0, shear=10.0, offset_y=1.0)
    variation = draw_variation(len(digits), params, np.random.default_rng(0))
    reach = overhang(params)
    cells = transform_digits(digits, ink_extents(digits), variation, reach)
    assert cells.cells.shape == (len(digits), 28, 28 + 2 * reach) and cells.cells.dtype == np.uint8
    assert not cells.clipped.any()
    maps = inverse_maps(variation)
    for k in range(len(digits)):
        expected = reference_cell(digits[k].astype(np.float64), maps[k], reach)
        assert np.abs(cells.cells[k].astype(np.float64) - expected).max() <= 1.0, k


@pytest.mark.parametrize(
    "params",
    [
        DigitParams(scale=(0.5, 1.6)),
        DigitParams(rotation=40.0, shear=25.0),
        DigitParams(offset_y=6.0, scale=(1.0, 1.3)),
        DigitParams(thickness=2.5),
        DigitParams(scale=(0.6, 2.0), rotation=30.0, shear=20.0, offset_y=4.0, thickness=1.5),
    ],
)
def test_each_box_is_the_extent_of_its_own_transformed_ink(digits, params):
    variation = draw_variation(len(digits), params, np.random.default_rng(1))
    cells = transform_digits(digits, ink_extents(digits), variation, overhang(params))
    for k, cell in enumerate(cells.cells):
        rows, cols = np.nonzero(cell)
        assert rows.size, k
        assert cells.extents[k].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], k


def test_the_overhang_never_cuts_ink_at_the_sides(digits):
    params = DigitParams(scale=(2.0, 2.0), rotation=45.0, shear=30.0, thickness=1.0)
    variation = draw_variation(len(digits), params, np.random.default_rng(2))
    reach = overhang(params)
    tight = transform_digits(digits, ink_extents(digits), variation, reach)
    wide = transform_digits(digits, ink_extents(digits), variation, reach + 6)
    np.testing.assert_array_equal(wide.cells[:, :, 6:-6], tight.cells)
    assert not wide.cells[:, :, :6].any() and not wide.cells[:, :, -6:].any()


def test_thickness_grows_and_shrinks_the_strokes(digits):
    extents = ink_extents(digits)
    plain = transform_digits(digits, extents, draw_variation(len(digits), DigitParams(scale=(1.0, 1.0)), np.random.default_rng(0)), 1)
    for amount, compare in ((1.0, np.greater), (-1.0, np.less)):
        variation = draw_variation(len(digits), DigitParams(thickness=1.0), np.random.default_rng(0))
        variation = type(variation)(variation.scale, variation.rotation, variation.shear, variation.offset_y, np.full(len(digits), amount))
        changed = transform_digits(digits, extents, variation, 2)
        ink = (changed.cells > 0).sum(axis=(1, 2))
        assert compare(ink, (plain.cells > 0).sum(axis=(1, 2))).all()


def test_the_variation_is_a_function_of_the_generator(digits):
    params = DigitParams(scale=(0.8, 1.2), rotation=15.0, thickness=1.0)
    first = transform_digits(digits, ink_extents(digits), draw_variation(len(digits), params, np.random.default_rng(7)), overhang(params))
    again = transform_digits(digits, ink_extents(digits), draw_variation(len(digits), params, np.random.default_rng(7)), overhang(params))
    np.testing.assert_array_equal(first.cells, again.cells)
    np.testing.assert_array_equal(first.extents, again.extents)
