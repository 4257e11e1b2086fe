"""Digits cut out of sequence images by their boxes, placed as the classifier expects them, and hashed to find copies.

A *canonical crop* is a box's pixels moved to the top-left corner of a blank
28x28 cell: two digits with the same ink give the same crop wherever they
stand, which is what the leakage check compares. A *centred crop* places that
ink with its centre of mass where MNIST puts it (no rescaling), which is what
the classifier reads.

Every function works on whole arrays of boxes (no Python loop per digit):
each row of a 28x28 window is gathered as one 28-byte item of a strided view.
"""

from __future__ import annotations

import numpy as np

from digitgen.compose import ink_extents
from digitgen.constants import DIGIT_SIZE

#: Where MNIST puts a digit's centre of mass in its 28x28 cell (row, column).
MNIST_CENTRE = (14.0, 14.0)
#: Boxes cropped per block (memory ~ block x 28 x 28 bytes plus the index arrays).
_BLOCK = 65536


def _windows(images: np.ndarray, rows: np.ndarray, tops: np.ndarray, lefts: np.ndarray) -> np.ndarray:
    """uint8 (K, 28, 28): the 28x28 window of ``images[rows]`` whose top-left corner is (``tops``, ``lefts``).

    Corners may lie up to 28 px outside the image. Only the part of a window
    inside the image is meaningful (callers mask the rest): rows outside the
    image repeat its edge rows, and columns past a row's end read the next row.
    Each window row is gathered as one 28-byte item, not pixel by pixel.
    """
    images = np.ascontiguousarray(images, np.uint8)
    _, height, width = images.shape
    y = np.clip(np.asarray(tops, np.int64)[:, None] + np.arange(DIGIT_SIZE), 0, height - 1)
    offsets = (np.asarray(rows, np.int64)[:, None] * height + y) * width + np.asarray(lefts, np.int64)[:, None]
    flat = images.reshape(-1)
    if offsets.size and (offsets.min() < 0 or offsets.max() + DIGIT_SIZE > flat.size):  # a window reads past the pixels
        flat = np.concatenate([np.zeros(DIGIT_SIZE, np.uint8), flat, np.zeros(DIGIT_SIZE, np.uint8)])
        offsets = offsets + DIGIT_SIZE
    # item i = the 28 bytes from byte i on (items overlap; numpy checks they stay inside the buffer)
    items = np.ndarray((max(flat.size - DIGIT_SIZE + 1, 0),), np.dtype((np.void, DIGIT_SIZE)), flat, 0, (1,))
    return items[offsets].view(np.uint8).reshape(len(offsets), DIGIT_SIZE, DIGIT_SIZE)


def _keep(windows: np.ndarray, top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Zero every pixel of each window outside rows ``top..bottom-1`` and columns ``left..right-1`` (in place)."""
    r = np.arange(DIGIT_SIZE)
    rows = (r[None, :] >= top[:, None]) & (r[None, :] < bottom[:, None])
    cols = (r[None, :] >= left[:, None]) & (r[None, :] < right[:, None])
    windows *= rows[:, :, None]  # two broadcast passes: no (K, 28, 28) mask is built
    windows *= cols[:, None, :]
    return windows


def canonical_crops(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Each box's pixels moved to the top-left corner of a blank 28x28 cell.

    Parameters
    ----------
    images : uint8 (B, H, W) sequence images (or digits).
    rows : int (K,) image of each box.
    boxes : int (K, 4) ``x0, y0, x1, y1`` (exclusive ends) inside the image, at most 28 x 28.

    Returns
    -------
    uint8 (K, 28, 28). Two digits with the same ink crop give the same array,
    whatever their position (the key of the leakage check).
    """
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    out = np.empty((len(boxes), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    zero = np.zeros(len(boxes), np.int64)
    for start in range(0, len(boxes), _BLOCK):
        part, stop = boxes[start : start + _BLOCK], start + min(_BLOCK, len(boxes) - start)
        windows = _windows(images, np.asarray(rows)[start:stop], part[:, 1], part[:, 0])
        out[start:stop] = _keep(windows, zero[start:stop], part[:, 3] - part[:, 1], zero[start:stop], part[:, 2] - part[:, 0])
    return out


def centre_crops(crops: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Place each top-left crop (see :func:`canonical_crops`) with its centre of mass where MNIST puts it.

    The crop is not rescaled (sequence digits are MNIST-sized already); the
    shift is clipped so the whole box stays inside the 28x28 cell.

    Parameters
    ----------
    crops : uint8 (K, 28, 28); boxes : int (K, 4) their boxes (for the crop sizes).

    Returns
    -------
    uint8 (K, 28, 28) digits as the classifier expects them.
    """
    crops = np.asarray(crops, np.uint8)
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    heights, widths = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    r = np.arange(DIGIT_SIZE, dtype=np.float64)
    weights_rows = crops.sum(axis=2, dtype=np.float64)
    weights_cols = crops.sum(axis=1, dtype=np.float64)
    total = np.maximum(weights_rows.sum(axis=1), 1e-12)
    com_row = (weights_rows * r).sum(1) / total
    com_col = (weights_cols * r).sum(1) / total
    dy = np.clip(np.round(MNIST_CENTRE[0] - com_row).astype(np.int64), 0, DIGIT_SIZE - heights)
    dx = np.clip(np.round(MNIST_CENTRE[1] - com_col).astype(np.int64), 0, DIGIT_SIZE - widths)
    out = np.empty_like(crops)
    for start in range(0, len(crops), _BLOCK):
        stop = start + min(_BLOCK, len(crops) - start)
        shift_y, shift_x = dy[start:stop], dx[start:stop]
        windows = _windows(crops[start:stop], np.arange(stop - start), -shift_y, -shift_x)
        out[start:stop] = _keep(windows, shift_y, shift_y + heights[start:stop], shift_x, shift_x + widths[start:stop])
    return out


def same_crops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool (K,): whether uint8 (K, 28, 28) crops ``a`` and ``b`` are equal, byte for byte (compared 8 bytes at a time)."""
    return (_words(a) == _words(b)).all(axis=1)


def covers(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool (K,): whether every pixel of crop ``a`` is at least that of crop ``b`` (``b``'s ink is all inside ``a``)."""
    return (_words(np.minimum(a, b)) == _words(b)).all(axis=1)


def _words(crops: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(crops).reshape(len(crops), DIGIT_SIZE * DIGIT_SIZE).view(np.uint64)


def digit_crops_of(images: np.ndarray, extents: np.ndarray | None = None) -> np.ndarray:
    """Canonical crops (see :func:`canonical_crops`) of uint8 (N, 28, 28) digits by their own ink boxes.

    ``extents``: int (N, 4) ``left, top, right, bottom`` of each digit's ink
    (:func:`digitgen.compose.ink_extents`), when already computed.
    """
    extents = ink_extents(images) if extents is None else extents
    return canonical_crops(images, np.arange(len(images)), extents)


def classifier_inputs(images: np.ndarray, extents: np.ndarray | None = None) -> np.ndarray:
    """What the classifier reads for each uint8 (N, 28, 28) digit when it stands in a sequence.

    Its ink crop centred as :func:`centre_crops` centres a crop cut from a
    sequence by the digit's box; so a sequence crop equal to the digit's own
    canonical crop gives exactly this input.
    """
    extents = ink_extents(images) if extents is None else extents
    return centre_crops(digit_crops_of(images, extents), extents)


class CropHashes:
    """Set membership of digit ink crops, by a 64-bit hash confirmed byte for byte.

    Parameters
    ----------
    crops : uint8 (N, 28, 28) canonical crops (see :func:`canonical_crops`) of the reference digits.
    """

    _MULTIPLIERS = np.random.default_rng(2934).integers(1, 2**63, DIGIT_SIZE * DIGIT_SIZE // 8, dtype=np.uint64) | np.uint64(1)

    def __init__(self, crops: np.ndarray) -> None:
        self._crops = np.ascontiguousarray(crops)
        hashes = self.hash(self._crops)
        self._order = np.argsort(hashes, kind="stable")
        self._sorted = hashes[self._order]

    @classmethod
    def hash(cls, crops: np.ndarray) -> np.ndarray:
        """uint64 (K,) hashes of uint8 (K, 28, 28) crops."""
        words = np.ascontiguousarray(crops).reshape(len(crops), -1).view(np.uint64)
        return (words * cls._MULTIPLIERS).sum(axis=1, dtype=np.uint64)

    def find(self, crops: np.ndarray) -> np.ndarray:
        """int64 (K,): the reference row equal to each crop, -1 where none is."""
        hashes = self.hash(crops)
        position = np.minimum(np.searchsorted(self._sorted, hashes), max(len(self._sorted) - 1, 0))
        found = np.full(len(crops), -1, np.int64)
        if not len(self._sorted):
            return found
        candidates = np.flatnonzero(self._sorted[position] == hashes)
        for i in candidates:  # equal hashes: confirm the bytes (a run of equal hashes is searched in full)
            start = position[i]
            while start < len(self._sorted) and self._sorted[start] == hashes[i]:
                row = self._order[start]
                if np.array_equal(self._crops[row], crops[i]):
                    found[i] = row
                    break
                start += 1
        return found
