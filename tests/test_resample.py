"""Tests of digitgen.resample: Pillow's bilinear filter, boxes that contain the resampled ink, width rounding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from synthetic import render_digits

from digitgen.compose import compose_batch
from digitgen.resample import (
    composed_width,
    min_output_width,
    resample_boxes,
    resample_images,
)


@pytest.mark.parametrize("shape", [(32, 229), (64, 457), (16, 114), (28, 150)])
def test_images_match_pillow_bilinear_within_one_grey_level(shape):
    rng = np.random.default_rng(0)
    images = (rng.random((3, 28, 200)) * 255).astype(np.uint8)
    out = resample_images(images, *shape)
    assert out.shape == (3, *shape) and out.dtype == np.uint8
    for image, mine in zip(images, out):
        pillow = np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.BILINEAR))
        assert np.abs(pillow.astype(int) - mine.astype(int)).max() <= 1


@pytest.mark.parametrize("height", [8, 20, 32, 64, 100])
def test_every_mapped_box_contains_its_digits_resampled_ink(height):
    digits = render_digits(np.arange(10).repeat(3), seed=1)
    index = np.arange(30).reshape(6, 5)
    width = 200 * height // 28
    composed = compose_batch(digits, index, (0, 8), composed_width(width, height), rng=np.random.default_rng(0))
    boxes = resample_boxes(composed.boxes, composed.images.shape[1:], (height, width))
    assert boxes.dtype == np.int16
    for b in range(6):
        for slot in range(5):
            alone = np.zeros((1, 28, composed.images.shape[2]), np.uint8)
            x0, y0, x1, y1 = composed.boxes[b, slot]
            alone[0, y0:y1, x0:x1] = composed.images[b, y0:y1, x0:x1]
            scaled = resample_images(alone, height, width)[0]
            bx0, by0, bx1, by1 = boxes[b, slot]
            assert 0 <= bx0 < bx1 <= width and 0 <= by0 < by1 <= height
            outside = scaled.copy()
            outside[by0:by1, bx0:bx1] = 0
            assert not outside.any(), (b, slot)
            assert scaled[by0:by1, bx0:bx1].any()


def test_padded_boxes_stay_padded():
    boxes = np.array([[[3, 2, 20, 26], [-1, -1, -1, -1]]], np.int16)
    out = resample_boxes(boxes, (28, 60), (56, 120))
    assert out[0, 1].tolist() == [-1, -1, -1, -1]
    assert out[0, 0].tolist()[0] <= 6 and out[0, 0].tolist()[2] >= 40


@pytest.mark.parametrize("height", [8, 13, 32, 64, 511])
def test_min_output_width_is_the_smallest_width_that_composes_wide_enough(height):
    for composed in (28, 76, 170, 333):
        width = min_output_width(composed, height)
        assert composed_width(width, height) >= composed
        assert width == 1 or composed_width(width - 1, height) < composed
    assert composed_width(200, 28) == 200 and min_output_width(170, 28) == 170
