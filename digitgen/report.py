"""Pictures of digits: mosaics of 28x28 images saved as PNG."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from digitgen.io import atomic_path


def mosaic(images: np.ndarray, columns: int, *, gap: int = 2) -> np.ndarray:
    """Tile images row by row into one picture.

    Parameters
    ----------
    images : uint8 (N, H, W), 0 = background.
    columns : images per row; the last row is padded with background.
    gap : background pixels between neighbouring images.

    Returns
    -------
    uint8 (rows * (H + gap) - gap, columns * (W + gap) - gap).
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W), got {images.dtype} {images.shape}.")
    if columns < 1:
        raise ValueError(f"columns == {columns}, must be >= 1.")
    count, height, width = images.shape
    rows = max(1, -(-count // columns))
    canvas = np.zeros((rows * (height + gap) - gap, columns * (width + gap) - gap), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = image
    return canvas


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 (H, W) image as PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG")
