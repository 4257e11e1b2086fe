"""Height resampling of composed sequences: images to any height with the aspect ratio kept, boxes mapped the same way.

A sequence is composed 28 px high and ``composed_width(width, height)`` px
wide (the output width times ``28 / height``, rounded half up), then
resampled to ``height x width``. The x and y factors are ``width / W0`` and
``height / 28``; they differ only by the rounding of ``W0`` (less than half a
composed pixel over the whole width).

The filter is Pillow's antialiased bilinear (a triangle of radius one input
pixel when enlarging, widened to one output pixel when reducing), applied
separably, columns first, in float32, with one rounding to uint8 at the end.
Edge taps that fall outside the image are dropped and the weights
renormalised, as Pillow does.

A box ``x0, y0, x1, y1`` (exclusive ends) is mapped through the filter's
support: ``x0`` becomes the first output column that input column ``x0``
contributes to, ``x1`` one past the last output column that input column
``x1 - 1`` contributes to (likewise for rows). So the mapped box holds every
output pixel the digit's ink reaches: it contains the resampled ink, and it is
its exact extent before the rounding to uint8 (a resampled tail below half a
grey level rounds to 0 and may leave a blank edge row or column inside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from digitgen.constants import DIGIT_SIZE

#: Smallest and largest output height.
MIN_HEIGHT, MAX_HEIGHT = 8, 512
#: Output pixels resampled at a time (float32 working memory ~ 4 x CHUNK_PIXELS x 4 bytes: cache-sized).
CHUNK_PIXELS = 1 << 18


def composed_width(width: int, height: int) -> int:
    """Width W0 at which a sequence of output size ``height x width`` is composed (28 px high): ``round(width * 28 / height)``, halves up."""
    if height == DIGIT_SIZE:
        return int(width)
    return max(1, (2 * int(width) * DIGIT_SIZE + int(height)) // (2 * int(height)))


def min_output_width(composed: int, height: int) -> int:
    """The smallest output width whose :func:`composed_width` at ``height`` is at least ``composed``."""
    if height == DIGIT_SIZE:
        return int(composed)
    width = max(1, ((2 * int(composed) - 1) * int(height)) // (2 * DIGIT_SIZE) - 1)  # just below (composed - 1/2) h / 28
    while composed_width(width, height) < composed:
        width += 1
    return width


@dataclass(frozen=True)
class Taps:
    """A 1-D resampling ``in_size -> out_size``: output ``j`` = sum over ``k`` of ``weights[j, k] * input[index[j, k]]``.

    Attributes
    ----------
    index : int64 (out_size, K) input positions (unused taps repeat a valid position with weight 0).
    weights : float32 (out_size, K), each row summing to 1.
    first, last : int64 (in_size,) the first and last output position each input position has a weight > 0 in.
    """

    index: np.ndarray
    weights: np.ndarray
    first: np.ndarray
    last: np.ndarray


@lru_cache(maxsize=64)
def taps(in_size: int, out_size: int) -> Taps:
    """The antialiased bilinear taps of ``in_size -> out_size`` (Pillow's ``BILINEAR`` coefficients, see the module docstring)."""
    scale = in_size / out_size
    support = max(scale, 1.0)  # triangle radius in input pixels
    centres = (np.arange(out_size) + 0.5) * scale
    low = np.maximum((centres - support + 0.5).astype(np.int64), 0)
    high = np.minimum((centres + support + 0.5).astype(np.int64), in_size)
    count = int((high - low).max())
    index = low[:, None] + np.arange(count)[None, :]
    weights = np.maximum(0.0, 1.0 - np.abs((index - centres[:, None] + 0.5) / support))
    weights[index >= high[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    index = np.minimum(index, in_size - 1)
    positive = weights > 0
    first = np.full(in_size, out_size, np.int64)
    last = np.full(in_size, -1, np.int64)
    rows = np.broadcast_to(np.arange(out_size)[:, None], index.shape)
    np.minimum.at(first, index[positive], rows[positive])
    np.maximum.at(last, index[positive], rows[positive])
    return Taps(index, weights.astype(np.float32), first, last)


def resample_images(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample uint8 (B, h, w) images to uint8 (B, height, width) (see the module docstring)."""
    count, in_h, in_w = images.shape
    if (in_h, in_w) == (height, width):
        return images
    across, down = taps(in_w, width), taps(in_h, height)
    out = np.empty((count, height, width), np.uint8)
    chunk = max(1, CHUNK_PIXELS // (height * max(width, in_w)))
    for start in range(0, count, chunk):
        part = images[start : start + chunk].astype(np.float32)
        wide = _apply(part, across, axis=2)
        tall = _apply(wide, down, axis=1)
        np.rint(tall, out=tall)
        np.clip(tall, 0, 255, out=tall)
        out[start : start + chunk] = tall
    return out


def _apply(values: np.ndarray, table: Taps, axis: int) -> np.ndarray:
    """float32: ``values`` resampled along ``axis`` (1 or 2) by ``table``."""
    shape = [1, 1, 1]
    shape[axis] = -1
    total = None
    for k in range(table.index.shape[1]):
        weight = table.weights[:, k].reshape(shape)
        term = np.take(values, table.index[:, k], axis=axis)
        term *= weight
        if total is None:
            total = term
        else:
            total += term
    return total


def resample_boxes(boxes: np.ndarray, in_shape: tuple[int, int], out_shape: tuple[int, int]) -> np.ndarray:
    """Map int (..., 4) boxes ``x0, y0, x1, y1`` of an image of ``in_shape`` (h, w) to one of ``out_shape``; -1 rows stay -1.

    Returns int16 boxes of the same shape (see the module docstring for the rule).
    """
    boxes = np.asarray(boxes)
    if tuple(in_shape) == tuple(out_shape):
        return boxes.astype(np.int16)
    down, across = taps(in_shape[0], out_shape[0]), taps(in_shape[1], out_shape[1])
    padded = (boxes < 0).any(axis=-1)
    safe = np.where(padded[..., None], 0, boxes).astype(np.int64)
    safe[..., 2:] = np.maximum(safe[..., 2:], safe[..., :2] + 1)
    mapped = np.stack(
        [across.first[safe[..., 0]], down.first[safe[..., 1]], across.last[safe[..., 2] - 1] + 1, down.last[safe[..., 3] - 1] + 1], axis=-1
    )
    mapped[padded] = -1
    return mapped.astype(np.int16)
