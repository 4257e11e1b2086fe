"""Per-digit variation: each digit scaled, rotated, sheared, shifted vertically and thickened or thinned in its own cell.

Coordinates are continuous, x to the right and y down; pixel ``(row, col)``
covers ``[col, col + 1) x [row, row + 1)``, so the 28-px cell's centre is
``c = (14, 14)``. A digit's point ``p`` moves to ``A (p - c) + c + (0, dy)``
with ``A = R(rotation) Sh(shear) S(scale)``: ``scale`` multiplies the size,
``shear`` (degrees) leans the top to the right for positive values
(``x' = x - tan(shear) y`` about the centre), ``rotation`` (degrees) turns
counter-clockwise for positive values and ``dy`` (px) moves the digit down for
positive values. The inverse map is sampled bilinearly at the centre of every
output pixel: **one resampling** per digit. ``thickness`` ``t`` (px) then moves
every stroke edge outwards (``t > 0``, grey dilation) or inwards (``t < 0``,
grey erosion) by ``|t|`` px: one 3x3 max (or min) filter per whole pixel, the
fraction blended linearly between two steps; a digit that erosion would wipe
out keeps its strokes as resampled.

Each digit lands in a *cell* 28 px high and ``28 + 2 overhang`` px wide whose
columns ``overhang .. overhang + 27`` are its nominal 28-px cell;
:func:`overhang` is the most the worst case of the parameters can move ink
sideways out of the nominal cell (the whole cell transformed, plus
thickness), so no ink is ever cut at the sides. Vertically the ink is moved
(whole rows, no resampling) to stay inside the 28 rows whenever it is at most
28 px high; taller ink is cut at the top and bottom and counted as
``clipped``. Each digit's box is the extent of its transformed ink (pixels >
0), exact and integer.

Work is vectorised over a whole batch: digits are sorted by the size of the
window their ink can reach, and each chunk of :data:`CHUNK` digits is
resampled on one window size with a handful of numpy gathers (no per-pixel
Python). The variation of each digit is drawn by :func:`draw_variation` from
the generator given, in a fixed order, so a batch is a pure function of the
digits and the generator's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.params.digit import DigitParams

#: Digits resampled at a time (working memory ~ 20 x CHUNK x window area x 4 bytes).
CHUNK = 256
#: Zero pixels around each source digit, so that every bilinear tap reads inside the array.
_PAD = 2


@dataclass(frozen=True)
class Variation:
    """The drawn variation of each of D digits: float64 (D,) arrays (see the module docstring for the units)."""

    scale: np.ndarray
    rotation: np.ndarray
    shear: np.ndarray
    offset_y: np.ndarray
    thickness: np.ndarray

    def __len__(self) -> int:
        return len(self.scale)


@dataclass(frozen=True)
class DigitCells:
    """Transformed digits, each in its own cell.

    Attributes
    ----------
    cells : uint8 (D, 28, 28 + 2 overhang), 0 = background; the nominal cell is columns
        ``overhang .. overhang + 27``.
    extents : int16 (D, 4) each digit's ink box ``left, top, right, bottom`` in its cell (exclusive ends).
    overhang : columns on each side of the nominal cell.
    clipped : bool (D,) digits whose ink was taller than 28 px and was cut.
    """

    cells: np.ndarray
    extents: np.ndarray
    overhang: int
    clipped: np.ndarray


def is_active(params: DigitParams) -> bool:
    """Whether ``params`` change any digit (a scale range other than [1, 1] or any other amount > 0)."""
    return tuple(params.scale) != (1.0, 1.0) or any(getattr(params, name) > 0 for name in ("rotation", "shear", "offset_y", "thickness"))


def overhang(params: DigitParams) -> int:
    """Columns a transformed digit can reach beyond its nominal 28-px cell on either side (0 when nothing changes).

    The bound holds for any digit: it is the widest transformed 28-px cell
    (bilinear support included) over the parameter ranges, plus the thickness.
    """
    if not is_active(params):
        return 0
    half = DIGIT_SIZE / 2 + 0.5  # the bilinear taps reach half a pixel beyond the cell
    angles = np.deg2rad(np.linspace(-params.rotation, params.rotation, 721))
    lean = math.tan(math.radians(params.shear))
    corners = np.array([[x, y] for x in (-half, half) for y in (-half, half)])
    sheared = np.stack([corners[:, 0] + lean * np.abs(corners[:, 1]), corners[:, 1]], 1)  # the worse sign of the shear
    x = np.abs(np.cos(angles)[:, None] * sheared[None, :, 0] + np.sin(angles)[:, None] * sheared[None, :, 1])
    reach = params.scale[1] * float(x.max()) + params.thickness
    return max(0, math.ceil(reach - DIGIT_SIZE / 2 - 1e-9))


def draw_variation(n: int, params: DigitParams, rng: np.random.Generator) -> Variation:
    """Each of ``n`` digits' variation, uniform in its range; only the parameters that vary are drawn, in field order."""
    def uniform(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, n) if high > low else np.full(n, float(low))

    return Variation(
        scale=uniform(*params.scale),
        rotation=uniform(-params.rotation, params.rotation),
        shear=uniform(-params.shear, params.shear),
        offset_y=uniform(-params.offset_y, params.offset_y),
        thickness=uniform(-params.thickness, params.thickness),
    )


def inverse_maps(variation: Variation) -> np.ndarray:
    """float64 (D, 2, 3): for each digit, the output point -> source point map ``[M | b]`` (``p = M q + b``)."""
    theta, lean = np.deg2rad(variation.rotation), np.tan(np.deg2rad(variation.shear))
    cos, sin, scale = np.cos(theta), np.sin(theta), variation.scale
    # A = R Sh S with R = [[cos, sin], [-sin, cos]], Sh = [[1, -lean], [0, 1]]; A^-1 = S^-1 Sh^-1 R^-1
    m = np.empty((len(scale), 2, 3))
    m[:, 0, 0] = (cos + lean * sin) / scale
    m[:, 0, 1] = (-sin + lean * cos) / scale
    m[:, 1, 0] = sin / scale
    m[:, 1, 1] = cos / scale
    centre = DIGIT_SIZE / 2
    shift_y = centre + variation.offset_y
    m[:, 0, 2] = centre - m[:, 0, 0] * centre - m[:, 0, 1] * shift_y
    m[:, 1, 2] = centre - m[:, 1, 0] * centre - m[:, 1, 1] * shift_y
    return m


def forward_points(variation: Variation, points: np.ndarray) -> np.ndarray:
    """float64 (D, K, 2): source points float (D, K, 2) ``(x, y)`` moved by each digit's map (the inverse of :func:`inverse_maps`)."""
    maps = inverse_maps(variation)
    linear = np.linalg.inv(maps[:, :, :2])
    return np.einsum("dij,dkj->dki", linear, points - maps[:, None, :, 2])


def transform_digits(images: np.ndarray, extents: np.ndarray, variation: Variation, overhang_px: int) -> DigitCells:
    """Transform each digit into its own cell (see the module docstring).

    Parameters
    ----------
    images : uint8 (D, 28, 28) digits, 0 = background.
    extents : int (D, 4) their ink boxes ``left, top, right, bottom`` (:func:`digitgen.compose.ink_extents`).
    variation : each digit's parameters (:func:`draw_variation`).
    overhang_px : :func:`overhang` of the parameters the variation was drawn from (or more).

    Returns
    -------
    DigitCells
    """
    count = len(images)
    width = DIGIT_SIZE + 2 * overhang_px
    cells = np.zeros((count, DIGIT_SIZE, width), np.uint8)
    clipped = np.zeros(count, bool)
    if not count:
        return DigitCells(cells, np.zeros((0, 4), np.int16), overhang_px, clipped)
    maps = inverse_maps(variation)
    margin = np.ceil(np.abs(variation.thickness)).astype(np.int64)
    ext = np.asarray(extents, np.float64)
    corners = np.stack(
        [np.stack([ext[:, i] + (0.5 if i == 2 else -0.5), ext[:, j] + (0.5 if j == 3 else -0.5)], 1) for i in (0, 2) for j in (1, 3)], 1
    )
    moved = forward_points(variation, corners)
    left = np.floor(moved[..., 0].min(1)).astype(np.int64) - margin
    top = np.floor(moved[..., 1].min(1)).astype(np.int64) - margin
    wide = np.ceil(moved[..., 0].max(1)).astype(np.int64) + margin - left
    high = np.ceil(moved[..., 1].max(1)).astype(np.int64) + margin - top
    wide = np.minimum(wide, width)  # the window never needs to be wider than the cell
    order = np.argsort(wide * high, kind="stable")
    for start in range(0, count, CHUNK):
        rows = order[start : start + CHUNK]
        win_w, win_h = int(wide[rows].max()), int(high[rows].max())
        # every window of the chunk has the chunk's size; keep it inside the cell's columns
        x0 = np.clip(left[rows] - (win_w - wide[rows]) // 2, -overhang_px, DIGIT_SIZE + overhang_px - win_w)
        y0 = top[rows] - (win_h - high[rows]) // 2
        windows = _resample(images[rows], maps[rows], x0, y0, win_w, win_h)
        windows = _thicken(windows, variation.thickness[rows])
        _place(cells, windows, rows, x0 + overhang_px, y0, clipped)
    return DigitCells(cells, _extents(cells), overhang_px, clipped)


def _resample(images: np.ndarray, maps: np.ndarray, x0: np.ndarray, y0: np.ndarray, win_w: int, win_h: int) -> np.ndarray:
    """float32 (n, win_h, win_w): bilinear samples of uint8 (n, 28, 28) ``images`` at the windows' pixel centres under ``maps``."""
    n = len(images)
    size = DIGIT_SIZE + 2 * _PAD
    source = np.zeros((n, size, size), np.uint8)  # a chunk's digits stay in cache while they are gathered
    source[:, _PAD:-_PAD, _PAD:-_PAD] = images
    # output pixel centres (per window: columns, rows) and the maps, in float32 from here on
    qx = (x0[:, None] + np.arange(win_w)[None, :] + 0.5).astype(np.float32)  # (n, w)
    qy = (y0[:, None] + np.arange(win_h)[None, :] + 0.5).astype(np.float32)  # (n, h)
    # source coordinates, shifted so that pixel k of a digit sits at k + _PAD, minus half a pixel (taps at pixel centres)
    shifted = maps.copy()
    shifted[:, :, 2] += _PAD - 0.5
    m = shifted.astype(np.float32)
    sx = (m[:, 0, 0, None] * qx)[:, None, :] + (m[:, 0, 1, None] * qy + m[:, 0, 2, None])[:, :, None]
    sy = (m[:, 1, 0, None] * qx)[:, None, :] + (m[:, 1, 1, None] * qy + m[:, 1, 2, None])[:, :, None]
    limit = np.float32(size - 2)  # the last two rows/columns are zeros: a clipped tap reads background
    np.clip(sx, 0, limit, out=sx)
    np.clip(sy, 0, limit, out=sy)
    ix = sx.astype(np.int32)
    iy = sy.astype(np.int32)
    sx -= ix
    sy -= iy
    iy *= size
    iy += ix
    iy += (np.arange(n, dtype=np.int32) * (size * size))[:, None, None]
    # a tap and its right neighbour are one little-endian uint16 of an overlapping view: two gathers, not four
    flat = source.reshape(-1)
    pairs = np.ndarray((flat.size - 1,), np.dtype("<u2"), flat, 0, (1,))
    upper = pairs.take(iy)
    iy += size
    lower = pairs.take(iy)
    top = (upper & 0xFF).astype(np.float32)
    top += ((upper >> 8).astype(np.float32) - top) * sx
    bottom = (lower & 0xFF).astype(np.float32)
    bottom += ((lower >> 8).astype(np.float32) - bottom) * sx
    bottom -= top
    bottom *= sy
    top += bottom
    return top


def _thicken(windows: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """Grey dilation (thickness > 0) or erosion (< 0) by ``|thickness|`` px per window, then uint8 (see the module docstring)."""
    out = windows
    steps = np.abs(thickness)
    if steps.max(initial=0) > 0:
        out = windows.copy()
        for grow, members in ((True, np.flatnonzero(thickness > 0)), (False, np.flatnonzero(thickness < 0))):
            if not len(members):
                continue
            amount = steps[members]
            whole = np.floor(amount).astype(np.int64)
            fraction = (amount - whole).astype(np.float32)[:, None, None]
            current = windows[members]
            result = current.copy()
            for step in range(int(whole.max()) + 1):
                following = _filter3(current, grow)
                here = whole == step  # this step and the next one are the two blended
                if here.any():
                    result[here] = current[here] + (following[here] - current[here]) * fraction[here]
                current = following
            out[members] = result
        if (thickness < 0).any():
            wiped = (thickness < 0) & (out.reshape(len(out), -1).max(axis=1) < 0.5)
            out[wiped] = windows[wiped]  # erosion would leave no ink: keep the strokes as resampled
    out = np.rint(out, out=out if out is not windows else None)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def _filter3(images: np.ndarray, grow: bool) -> np.ndarray:
    """3x3 grey max (``grow``) or min filter of float32 (n, h, w), background 0 beyond the edges."""
    pick = np.maximum if grow else np.minimum
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows = pick(pick(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return pick(pick(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def _place(cells: np.ndarray, windows: np.ndarray, rows: np.ndarray, x0: np.ndarray, y0: np.ndarray, clipped: np.ndarray) -> None:
    """Write each window into its digit's cell at column ``x0``, moving it vertically to keep its ink inside the 28 rows."""
    n, win_h, win_w = windows.shape
    inked_rows = windows.max(axis=2) > 0
    has_ink = inked_rows.any(axis=1)
    first = np.where(has_ink, inked_rows.argmax(axis=1), 0)
    last = np.where(has_ink, win_h - inked_rows[:, ::-1].argmax(axis=1), 0)
    top, bottom = y0 + first, y0 + last
    fits = bottom - top <= DIGIT_SIZE
    shift = np.where(top < 0, -top, 0) - np.where(bottom > DIGIT_SIZE, bottom - DIGIT_SIZE, 0)
    shift = np.where(fits, shift, DIGIT_SIZE // 2 - (top + bottom) // 2)  # too tall: centred, cut at both ends
    clipped[rows] = has_ink & ~fits
    y = y0 + shift
    # a padded buffer takes every window whole; the 28 rows in its middle are the cells
    buffer = np.zeros((n, DIGIT_SIZE + 2 * win_h, cells.shape[2]), np.uint8)
    flat = buffer.reshape(-1)
    stride = buffer.shape[2]
    blocks = np.lib.stride_tricks.as_strided(flat, shape=(flat.size - (win_h - 1) * stride - win_w + 1, win_h, win_w), strides=(1, stride, 1))
    blocks[np.arange(n) * buffer[0].size + (y + win_h) * stride + x0] = windows
    cells[rows] = buffer[:, win_h : win_h + DIGIT_SIZE]


def _extents(cells: np.ndarray) -> np.ndarray:
    """int16 (D, 4) ink boxes ``left, top, right, bottom`` of uint8 (D, H, W) cells (the full cell when a cell has no ink)."""
    cols = cells.max(axis=1) > 0
    lines = cells.max(axis=2) > 0
    height, width = cells.shape[1:]
    has = cols.any(axis=1)
    left = np.where(has, cols.argmax(axis=1), 0)
    right = np.where(has, width - cols[:, ::-1].argmax(axis=1), width)
    top = np.where(has, lines.argmax(axis=1), 0)
    bottom = np.where(has, height - lines[:, ::-1].argmax(axis=1), height)
    return np.stack([left, top, right, bottom], axis=1).astype(np.int16)
