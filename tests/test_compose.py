"""Tests of digitgen.compose: layout rules, the vectorised composer against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from digitgen.bank import DigitBank
from digitgen.compose import (
    check_layout,
    compose_batch,
    ink_extents,
    min_width,
    parse_digits,
)
from digitgen.sequence import compose_sequence


def reference_compose(pool, index, spacing_range, width, rng, measure, align):
    """Slow per-sequence reference: same draws as compose_batch, Python loops and a padded canvas."""
    low, high = spacing_range
    batch, slots = index.shape
    gaps = rng.integers(low, high + 1, size=(batch, max(slots - 1, 0)), dtype=np.int64)
    ext = ink_extents(pool).astype(int)
    layouts = []
    for b in range(batch):
        digits = [int(i) for i in index[b] if i >= 0]
        cells = []
        pos = 0
        for k, d in enumerate(digits):
            left, _, right, _ = ext[d]
            if measure == "cell":
                cells.append(pos)
                pos += 28 + (gaps[b, k] if k < len(digits) - 1 else 0)
            else:
                cells.append(pos - left)
                pos += (right - left) + (gaps[b, k] if k < len(digits) - 1 else 0)
        if measure == "cell":
            start, end = 0, cells[-1] + 28
        else:
            start = min(c + ext[d][0] for c, d in zip(cells, digits))
            end = max(c + ext[d][2] for c, d in zip(cells, digits))
        layouts.append((digits, cells, start, end))
    slack = np.array([width - (end - start) for _, _, start, end in layouts])
    offsets = slack // 2 if align == "center" else rng.integers(0, slack + 1)
    images = np.zeros((batch, 28, width), dtype=np.uint8)
    for b, (digits, cells, start, _) in enumerate(layouts):
        canvas = np.zeros((28, width + 56), dtype=np.uint8)
        for d, c in zip(digits, cells):
            x = c - start + offsets[b] + 28
            canvas[:, x : x + 28] = np.maximum(canvas[:, x : x + 28], pool[d])
        images[b] = canvas[:, 28 : 28 + width]
    return images


@pytest.fixture
def pool(mnist_arrays):
    return mnist_arrays["x_train"]


@pytest.mark.parametrize("measure", ["cell", "ink"])
@pytest.mark.parametrize("spacing", [(0, 10), (-12, -3), (-5, 6)])
@pytest.mark.parametrize("align", ["random", "center"])
def test_batch_matches_brute_force_reference(pool, measure, spacing, align):
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 6, size=300)
    index = np.where(np.arange(5) < lengths[:, None], rng.integers(0, len(pool), size=(300, 5)), -1)
    fast = compose_batch(pool, index, spacing, 180, rng=np.random.default_rng(3), measure=measure, align=align)
    slow = reference_compose(pool, index, spacing, 180, np.random.default_rng(3), measure, align)
    assert fast.images.dtype == np.uint8 and fast.images.shape == (300, 28, 180)
    np.testing.assert_array_equal(fast.images, slow)


def test_cell_gaps_are_uniform_over_the_whole_range():
    block = np.full((1, 28, 28), 255, dtype=np.uint8)  # ink box == cell, so gaps are visible in the boxes
    index = np.zeros((6000, 2), dtype=np.int64)
    boxes = compose_batch(block, index, (-3, 4), 100, rng=np.random.default_rng(0)).boxes
    gaps = boxes[:, 1, 0] - boxes[:, 0, 2]
    counts = np.bincount(gaps + 3, minlength=8)
    assert gaps.min() == -3 and gaps.max() == 4
    assert counts.min() > 600 and counts.max() < 900  # 750 expected per value


def test_ink_measure_spaces_ink_extents(pool):
    index = np.random.default_rng(1).integers(0, len(pool), size=(500, 3))
    boxes = compose_batch(pool, index, (2, 2), 150, rng=np.random.default_rng(0), measure="ink").boxes.astype(int)
    assert np.all(boxes[:, 1:, 0] - boxes[:, :-1, 2] == 2)


def test_overlap_is_merged_with_maximum():
    pool = np.zeros((2, 28, 28), dtype=np.uint8)
    pool[0, :, :] = 100
    pool[1, :, 20:] = 200  # ink only in the right part of the second cell
    pool[1, 5, 0:4] = 50  # a faint pixel that overlaps the first digit
    image = compose_batch(pool, np.array([[0, 1]]), (-8, -8), 48, rng=np.random.default_rng(0)).images[0]
    # cells at x=0 and x=20: columns 20..27 are shared
    assert image[0, 0] == 100 and image[5, 20] == 100  # max(100, 50) keeps the first digit's ink
    assert image[0, 40] == 200 and image[0, 27] == 100
    assert image.shape == (28, 48)


def test_boxes_match_the_ink_of_each_digit(pool):
    index = np.random.default_rng(2).integers(0, len(pool), size=(200, 4))
    composed = compose_batch(pool, index, (1, 8), 160, rng=np.random.default_rng(5))
    ext = ink_extents(pool)
    for b in range(200):
        for k in range(4):
            x0, y0, x1, y1 = composed.boxes[b, k]
            left, top, right, bottom = ext[index[b, k]]
            assert (x1 - x0, y0, y1) == (right - left, top, bottom)
            np.testing.assert_array_equal(composed.images[b, y0:y1, x0:x1], pool[index[b, k], top:bottom, left:right])


def test_padded_slots_have_minus_one_boxes(pool):
    index = np.array([[0, 1, -1], [2, -1, -1]])
    boxes = compose_batch(pool, index, (0, 4), 100, rng=np.random.default_rng(0)).boxes
    assert boxes.dtype == np.int16 and boxes.shape == (2, 3, 4)
    assert np.all(boxes[0, 2] == -1) and np.all(boxes[1, 1:] == -1) and np.all(boxes[0, :2] >= 0)


def test_fill_mode_spreads_remainder_over_gaps():
    block = np.full((1, 28, 28), 255, dtype=np.uint8)
    boxes = compose_batch(block, np.zeros((1, 4), int), (0, 40), 200, rng=np.random.default_rng(0), mode="fill").boxes[0]
    gaps = sorted((boxes[1:, 0] - boxes[:-1, 2]).tolist())
    assert gaps == [29, 29, 30]  # (200 - 4 * 28) / 3 = 29.33
    assert boxes[0, 0] == 0 and boxes[-1, 2] == 200


def test_fill_mode_centres_a_single_digit():
    block = np.full((1, 28, 28), 255, dtype=np.uint8)
    boxes = compose_batch(block, np.zeros((1, 1), int), (0, 5), 100, rng=np.random.default_rng(0), mode="fill").boxes
    assert boxes[0, 0].tolist() == [36, 0, 64, 28]


def test_fill_mode_outside_spacing_range_is_refused():
    with pytest.raises(ValueError, match=r"spacing of 29.3333 px, outside the spacing range \[0, 10\]"):
        check_layout(4, (0, 10), 200, mode="fill")


def test_centre_alignment_splits_the_slack():
    block = np.full((1, 28, 28), 255, dtype=np.uint8)
    boxes = compose_batch(block, np.zeros((1, 2), int), (4, 4), 101, rng=np.random.default_rng(0), align="center").boxes
    assert boxes[0, 0, 0] == (101 - 60) // 2


def test_tight_width_holds_the_content():
    block = np.full((1, 28, 28), 255, dtype=np.uint8)
    images = compose_batch(block, np.zeros((1, 3), int), (5, 5), None, rng=np.random.default_rng(0)).images
    assert images.shape == (1, 28, 94)


@pytest.mark.parametrize("digits", ["12a", "", " 1", "١٢"])
def test_bad_digit_strings_are_refused(digits):
    with pytest.raises(ValueError, match="must be a non-empty string of the characters 0-9"):
        parse_digits(digits)


@pytest.mark.parametrize("digits", [[], [1, 10], [-1], [True]])
def test_bad_digit_lists_are_refused(digits):
    with pytest.raises(ValueError, match="must be a non-empty sequence of integers 0-9"):
        parse_digits(digits)


def test_min_spacing_above_max_is_refused():
    with pytest.raises(ValueError, match="spacing min == 10 is greater than spacing max == 2"):
        check_layout(3, (10, 2), 200)


def test_too_narrow_width_names_the_minimum():
    assert min_width(5, 10) == 180
    with pytest.raises(ValueError, match=r"image width == 170 is too small for 5 digits .* minimum width is 180"):
        check_layout(5, (0, 10), 170)
    check_layout(5, (0, 10), 180)


def test_spacing_that_would_pass_digits_is_refused():
    with pytest.raises(ValueError, match="spacing min == -28, must be > -28"):
        check_layout(2, (-28, 0), 100)


def test_unknown_mode_measure_align_are_refused(pool):
    with pytest.raises(ValueError, match=r"mode == 'tile', must be one of \['random', 'fill'\]"):
        check_layout(2, (0, 1), 100, mode="tile")
    with pytest.raises(ValueError, match=r"measure == 'px'"):
        check_layout(2, (0, 1), 100, measure="px")
    with pytest.raises(ValueError, match=r"align == 'left'"):
        compose_batch(pool, np.zeros((1, 1), int), (0, 1), 100, rng=np.random.default_rng(0), align="left")


def test_compose_sequence_api(mnist_npz, mnist_arrays):
    image = compose_sequence("2934", (0, 10), 200, rng=7, data=mnist_npz)
    assert image.dtype == np.float32 and image.shape == (28, 200)
    assert image.min() == 0.0 and image.max() == 1.0
    again = compose_sequence("2934", (0, 10), 200, rng=np.random.default_rng(7), data=mnist_npz)
    np.testing.assert_array_equal(image, again)
    other = compose_sequence("2934", (0, 10), 200, rng=8, data=mnist_npz)
    assert not np.array_equal(image, other)


def test_compose_sequence_uses_the_given_bank():
    bank = DigitBank("blocks", np.stack([np.full((28, 28), d * 20, np.uint8) for d in range(10)]), np.arange(10, dtype=np.int16))
    image = compose_sequence([3, 7], (0, 0), None, bank=bank, rng=0)
    assert image.shape == (28, 56)
    np.testing.assert_allclose(image[:, :28], 60 / 255)
    np.testing.assert_allclose(image[:, 28:], 140 / 255)


def test_compose_sequence_checks_before_loading_data(tmp_path):
    with pytest.raises(ValueError, match="minimum width is 152"):
        compose_sequence("12345", (0, 3), 100, data=tmp_path / "missing.npz")


def test_tight_ink_width_narrower_than_a_cell():
    pool = np.zeros((1, 28, 28), dtype=np.uint8)
    pool[0, 4:24, 12:15] = 255  # a "1" three pixels wide
    image = compose_batch(pool, np.zeros((1, 1), int), (0, 0), None, rng=np.random.default_rng(0), measure="ink").images
    assert image.shape == (1, 28, 3) and np.all(image[0, 4:24] == 255)
