"""Pictures of detection canvases: canvases in a grid with their number boxes and digit boxes (for evaluate_canvases and the report).

A module of its own so that :mod:`digitgen.pictures`, which most stages import, is unchanged by it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from digitgen.pictures import BOX_AGREES, BOX_DISAGREES, BOX_UNCHECKED


def draw_canvases(
    images: np.ndarray, digit_boxes: np.ndarray, digit_labels: np.ndarray, number_boxes: np.ndarray,
    predicted: np.ndarray | None = None, *, scale: int = 3, columns: int = 4, gap: int = 6,
) -> np.ndarray:
    """Canvases in a grid, upscaled, with every number's box (blue) and every digit's box (coloured as in :func:`draw_sequences`).

    Parameters
    ----------
    images : uint8 (P, H, W); digit_boxes : int (P, K, 4) and digit_labels : int (P, K), -1 where padded;
    number_boxes : int (P, M, 4), -1 where padded; predicted : int (P, K) the classifier's digits (-1 = not classified) or None.
    scale : screen pixels per image pixel; columns : canvases per row; gap : white pixels between canvases.

    Returns
    -------
    uint8 RGB picture.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (P, H, W), got {images.dtype} {images.shape}.")
    count, height, width = images.shape
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    cell_w, cell_h = width * scale + gap, height * scale + gap
    canvas = Image.new("RGB", (max(1, columns * cell_w - gap), max(1, rows * cell_h - gap)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(count):
        left, top = (i % columns) * cell_w, (i // columns) * cell_h
        picture = Image.fromarray(images[i]).resize((width * scale, height * scale), Image.Resampling.NEAREST)
        canvas.paste(picture.convert("RGB"), (left, top))
        for box in np.asarray(number_boxes[i]):
            if box[0] >= 0:
                x0, y0, x1, y1 = (int(v) * scale for v in box)
                draw.rectangle([left + x0, top + y0, left + x1 - 1, top + y1 - 1], outline=(70, 130, 255), width=max(1, scale // 2))
        for slot in np.flatnonzero(np.asarray(digit_labels[i]) >= 0):
            x0, y0, x1, y1 = (int(v) * scale for v in digit_boxes[i][slot])
            guess = -1 if predicted is None else int(predicted[i][slot])
            colour = BOX_UNCHECKED if guess < 0 else BOX_AGREES if guess == int(digit_labels[i][slot]) else BOX_DISAGREES
            draw.rectangle([left + x0, top + y0, left + x1 - 1, top + y1 - 1], outline=colour)
    return np.asarray(canvas)
