"""Pictures of digits: mosaics, sequences with their boxes, interpolation strips; saved as PNG.

Every function takes uint8 images (0 = background, 255 = ink) and returns a
uint8 picture; nothing here computes a metric or reads a model.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitgen.io import atomic_path

#: Box colours of :func:`draw_sequences` (RGB): classifier agrees, disagrees, not classified.
BOX_AGREES, BOX_DISAGREES, BOX_UNCHECKED = (60, 200, 90), (235, 60, 60), (230, 200, 40)


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




def draw_sequences(
    images: np.ndarray, boxes: np.ndarray, labels: np.ndarray, predicted: np.ndarray | None = None, *, scale: int = 3, gap: int = 6
) -> np.ndarray:
    """Sequence images stacked vertically, upscaled, each digit's box drawn and the labels written below.

    Parameters
    ----------
    images : uint8 (P, H, W) sequences, 0 = background.
    boxes : int (P, L, 4) ink boxes ``x0, y0, x1, y1`` (exclusive ends), -1 where padded.
    labels : int (P, L) digits, -1 where padded.
    predicted : int (P, L) the classifier's digits (-1 = not classified), or None.
        Boxes are green where it agrees with the label, red where not, yellow unclassified.
    scale : screen pixels per image pixel; gap : background rows between sequences.

    Returns
    -------
    uint8 (P * (H * scale + caption + gap), W * scale, 3) RGB picture.
    """
    images, boxes, labels = np.asarray(images), np.asarray(boxes), np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (P, H, W), got {images.dtype} {images.shape}.")
    count, height, width = images.shape
    if boxes.shape[:1] != (count,) or boxes.shape[2:] != (4,) or labels.shape != boxes.shape[:2]:
        raise ValueError(f"boxes must be (P, L, 4) and labels (P, L) with P == {count}, got {boxes.shape} and {labels.shape}.")
    if predicted is not None and np.shape(predicted) != labels.shape:
        raise ValueError(f"predicted must have the shape of labels {labels.shape}, got {np.shape(predicted)}.")
    if scale < 1:
        raise ValueError(f"scale == {scale}, must be >= 1.")
    font = ImageFont.load_default(size=max(10, 4 * scale))
    caption = max(12, 5 * scale)
    row_height = height * scale + caption + gap
    canvas = Image.new("RGB", (width * scale, max(1, count * row_height - gap)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(count):
        top = i * row_height
        picture = Image.fromarray(images[i]).resize((width * scale, height * scale), Image.Resampling.NEAREST)
        canvas.paste(picture.convert("RGB"), (0, top))
        active = labels[i] >= 0
        read = []
        for slot in np.flatnonzero(active):
            x0, y0, x1, y1 = (int(v) * scale for v in boxes[i, slot])
            guess = -1 if predicted is None else int(predicted[i, slot])
            colour = BOX_UNCHECKED if guess < 0 else BOX_AGREES if guess == labels[i, slot] else BOX_DISAGREES
            draw.rectangle((x0, top + y0, x1 - 1, top + y1 - 1), outline=colour, width=1)
            read.append("?" if guess < 0 else str(guess))
        text = "label " + "".join(str(int(d)) for d in labels[i][active])
        if predicted is not None:
            text += "   read " + "".join(read)
        draw.text((2, top + height * scale + 1), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def series_strip(images: np.ndarray, chosen: np.ndarray, kept: np.ndarray | None = None, *, mark: int = 255) -> np.ndarray:
    """Picture of interpolation series: one row per pair, the chosen step framed, then (optionally) the digit kept.

    Parameters
    ----------
    images : uint8 (n, K, 28, 28) every step of each series (e.g.
        :attr:`digitgen.generators.ambiguous.InterpolationSeries.images`).
    chosen : int (n,) the step kept in each series, framed.
    kept : uint8 (n, 28, 28) digits kept from each row (after refinement), drawn
        in an extra last column after an empty one; None: no extra columns.
    mark : grey level of the 1-pixel frame drawn in the gap around each chosen step.

    Returns
    -------
    uint8 (n * 30 - 2, K' * 30 - 2) image, 0 = background; K' = K, or K + 2 with ``kept``.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or np.shape(chosen) != images.shape[:1]:
        raise ValueError(f"images must be uint8 (n, K, 28, 28) and chosen (n,), got {images.dtype} {images.shape} and {np.shape(chosen)}.")
    n = len(images)
    cells = images
    if kept is not None:
        if kept.shape != (n, 28, 28):
            raise ValueError(f"kept must have shape ({n}, 28, 28) like the series, got {kept.shape}.")
        cells = np.concatenate([cells, np.zeros((n, 1, 28, 28), np.uint8), kept[:, None]], axis=1)
    canvas = mosaic(cells.reshape(-1, 28, 28), cells.shape[1], gap=2)
    for row, step in enumerate(np.asarray(chosen).tolist()):
        top, left = row * 30 - 1, step * 30 - 1
        bottom, right = top + 29, left + 29
        for y in (top, bottom):
            if 0 <= y < canvas.shape[0]:
                canvas[y, max(left, 0) : right + 1] = mark
        for x in (left, right):
            if 0 <= x < canvas.shape[1]:
                canvas[max(top, 0) : bottom + 1, x] = mark
    return canvas
