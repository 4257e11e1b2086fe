"""Tests of digitgen.report: mosaics and PNG writing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from digitgen.report import mosaic, save_png


def test_mosaic_places_images_row_by_row():
    images = np.stack([np.full((2, 3), i + 1, np.uint8) for i in range(5)])
    tiled = mosaic(images, 2, gap=1)
    assert tiled.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert tiled[0, 0] == 1 and tiled[0, 4] == 2 and tiled[3, 0] == 3 and tiled[6, 0] == 5
    assert tiled[6, 4] == 0 and tiled[2, 0] == 0  # padding cell and gap row are background


def test_mosaic_refuses_bad_input():
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, H, W\), got float64"):
        mosaic(np.zeros((1, 2, 2)), 1)
    with pytest.raises(ValueError, match="columns == 0, must be >= 1"):
        mosaic(np.zeros((1, 2, 2), np.uint8), 0)


def test_save_png_round_trip(tmp_path):
    image = np.arange(60, dtype=np.uint8).reshape(6, 10)
    save_png(tmp_path / "m.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "m.png")), image)
