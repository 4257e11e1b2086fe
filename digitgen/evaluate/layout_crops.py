"""Crops of sequences made with layout options (height, per-digit variation, degradations), as the classifier expects digits.

With any layout option on, a digit in a shard is no longer a copy of its
source digit, so its crop is classified (never looked up) and the checks that
compare its pixels and box with the source digit are skipped (its label is
still checked against the source). What the classifier reads is what is in
the shard, brought back to the 28-px scale the classifier knows:

- an image whose median grey is above mid-grey (inverted: dark ink on a light
  ground) is inverted back, so ink is bright as in MNIST; any ground or noise
  stays in the crop;
- the box's pixels are resized (Pillow's bilinear, aspect kept) by ``28 /
  height``, undoing the height resampling (and further down if the box would
  still not fit 28 px), so a digit's own size variation (``digit.scale``) is
  kept and scored; then they are placed in a 28x28 cell with their centre of
  mass at its centre, as for the classic layout.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

from digitgen.constants import DIGIT_SIZE


def layout_in_use(parameters: Mapping) -> list[str]:
    """The layout options of a split's ``info.json`` ``parameters`` that change its digits, as short names (empty: none)."""
    used = []
    if int(parameters.get("height", DIGIT_SIZE)) != DIGIT_SIZE:
        used.append("height")
    digit = parameters.get("digit") or {}
    if list(digit.get("scale", [1.0, 1.0])) != [1.0, 1.0]:
        used.append("scale")
    used += [name for name in ("rotation", "shear", "offset_y", "thickness") if float(digit.get(name, 0)) > 0]
    degrade = parameters.get("degrade") or {}
    used += [name for name in sorted(degrade) if float((degrade[name] or {}).get("p", 0)) > 0]
    return used


def normalised_crops(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """uint8 (K, 28, 28): each box of ``images[rows]`` as the classifier expects a digit (see the module docstring).

    Parameters
    ----------
    images : uint8 (B, H, W) sequence images; rows : int (K,) image of each box;
    boxes : int (K, 4) ``x0, y0, x1, y1`` (exclusive ends) inside the image.
    """
    images = np.asarray(images, np.uint8)
    scale = DIGIT_SIZE / images.shape[1]
    inverted = np.median(images.reshape(len(images), -1), axis=1) > 127 if len(images) else np.zeros(0, bool)
    out = np.zeros((len(boxes), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    centre = np.arange(DIGIT_SIZE, dtype=np.float64)
    for k, (row, (x0, y0, x1, y1)) in enumerate(zip(np.asarray(rows).tolist(), np.asarray(boxes).tolist())):
        region = images[row, y0:y1, x0:x1]
        if inverted[row]:
            region = 255 - region
        height, width = region.shape
        factor = min(scale, DIGIT_SIZE / max(height, width))
        size = (max(1, min(DIGIT_SIZE, round(width * factor))), max(1, min(DIGIT_SIZE, round(height * factor))))
        if size == (width, height):
            digit = region
        else:
            digit = np.asarray(Image.fromarray(np.ascontiguousarray(region)).resize(size, Image.BILINEAR))
        mass = digit.astype(np.float64)
        total = max(mass.sum(), 1e-12)
        com_y = (mass.sum(axis=1) * centre[: size[1]]).sum() / total
        com_x = (mass.sum(axis=0) * centre[: size[0]]).sum() / total
        top = int(np.clip(round(DIGIT_SIZE / 2 - com_y), 0, DIGIT_SIZE - size[1]))
        left = int(np.clip(round(DIGIT_SIZE / 2 - com_x), 0, DIGIT_SIZE - size[0]))
        out[k, top : top + size[1], left : left + size[0]] = digit
    return out
