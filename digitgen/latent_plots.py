"""Pictures of the clustering study: scatter panels of 2-D points coloured by digit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Colour of each digit 0-9 in scatter plots (the "tab10" palette).
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)


def scatter_panels(panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, size: int = 420, columns: int | None = None) -> np.ndarray:
    """Scatter plots of 2-D points coloured by digit, with titles and a legend, ``columns`` panels per row.

    Parameters
    ----------
    panels : (title, points float (n, 2), labels int (n,) digits 0-9) per panel.
    size : width and height of each panel's plotting square, in pixels.
    columns : panels per row (None: all in one row).

    Returns
    -------
    uint8 (H, W, 3) RGB image, white background.
    """
    font = ImageFont.load_default(size=14)
    top, margin, legend = 26, 8, 24
    columns = len(panels) if columns is None else max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    width = columns * (size + margin) + margin
    canvas = Image.new("RGB", (width, rows * (top + size) + legend + margin), "white")
    draw = ImageDraw.Draw(canvas)
    for p, (title, points, labels) in enumerate(panels):
        points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels, dtype=np.int64)
        if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (len(points),):
            raise ValueError(f"panel {title!r}: points must be (n, 2) and labels (n,), got {points.shape} and {labels.shape}.")
        left = margin + (p % columns) * (size + margin)
        upper = (p // columns) * (top + size)
        draw.rectangle([left, upper + top, left + size - 1, upper + top + size - 1], outline=(200, 200, 200))
        draw.text((left + 2, upper + 4), title, fill="black", font=font)
        if len(points):
            low, high = points.min(axis=0), points.max(axis=0)
            scaled = (points - low) / np.where(high > low, high - low, 1.0)
            xy = np.column_stack([left + 4 + scaled[:, 0] * (size - 9), upper + top + 4 + (1 - scaled[:, 1]) * (size - 9)])
            for (x, y), label in zip(xy.tolist(), labels.tolist()):
                draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=PALETTE[label % 10])
    for digit in range(10):
        x = margin + digit * 28
        y = rows * (top + size) + 6
        draw.rectangle([x, y + 3, x + 8, y + 11], fill=PALETTE[digit])
        draw.text((x + 11, y), str(digit), fill="black", font=font)
    return np.asarray(canvas, dtype=np.uint8)
