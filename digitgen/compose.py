"""Digit-sequence composition: the core of digitgen.

Digits are 28x28 uint8 cells (0 = background, 255 = ink) placed left to right
on a 28-pixel-high canvas. Each gap is drawn uniformly from the integers in
``[min, max]``; it is measured either between 28-pixel cells (``"cell"``, as the
classic tools do) or between ink extents (``"ink"``, visually even spacing).
Negative gaps make digits touch or overlap; overlapping ink is merged with a
pixel-wise maximum. Slack between the content and the image width becomes
margins, placed at random or centred. ``mode="fill"`` reproduces the classic
behaviour: one equal spacing ``(W - 28 n) / (n - 1)`` across the gaps, with the
remainder pixels spread over the gaps.

A digit transformed in its own cell (:mod:`digitgen.transform`) comes in a
cell wider than 28 px: its nominal 28-px cell plus ``overhang`` columns on
each side. Gaps are still measured between the nominal cells (or between the
ink); the content whose slack becomes margins is then the union of the
nominal cells and the ink, and the layout checks count the overhang at both
ends (``fill`` spreads the cells over ``W - 2 overhang``). A sequence of
output height ``h`` is composed at width ``round(W * 28 / h)``
(:func:`digitgen.resample.composed_width`) and the checks say the smallest
output width at that height.

:func:`compose_batch` composes a whole batch with array operations only (no
per-pixel Python); :func:`digitgen.sequence.compose_sequence` is the one-sequence API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from digitgen.constants import DIGIT_SIZE
from digitgen.errors import InputError
from digitgen.resample import composed_width, min_output_width

Mode = Literal["random", "fill"]
Measure = Literal["cell", "ink"]
Align = Literal["random", "center"]

MODES = ("random", "fill")
MEASURES = ("cell", "ink")
ALIGNS = ("random", "center")


@dataclass(frozen=True)
class ComposedBatch:
    """A batch of composed sequences.

    Attributes
    ----------
    images : uint8 (B, H, W), 0 = background, 255 = ink (H = 28 out of :func:`compose_batch`).
    boxes : int16 (B, L_max, 4), each digit's ink box ``x0, y0, x1, y1``
        (exclusive ends) in its image; -1 where the slot is padding.
    """

    images: np.ndarray
    boxes: np.ndarray


# --------------------------------------------------------------------------- checks


def parse_digits(digits: str | Sequence[int]) -> np.ndarray:
    """Turn ``"2934"`` or ``[2, 9, 3, 4]`` into int64 (n,) digits, checking each is 0-9."""
    if isinstance(digits, str):
        if not digits or not digits.isascii() or not digits.isdigit():
            raise InputError(f"digits == {digits!r}, must be a non-empty string of the characters 0-9.")
        return np.array([int(c) for c in digits], dtype=np.int64)
    values = list(digits)
    if not values or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= 9 for v in values):
        raise InputError(f"digits == {values!r}, must be a non-empty sequence of integers 0-9.")
    return np.array(values, dtype=np.int64)


def check_spacing(spacing_range: Sequence[int]) -> tuple[int, int]:
    """Validate a ``(min, max)`` spacing range in pixels and return it as ints."""
    try:
        low, high = spacing_range
    except (TypeError, ValueError):
        raise InputError(f"spacing_range == {spacing_range!r}, must be a pair (min, max) of integers.") from None
    for value in (low, high):
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise InputError(f"spacing_range == {spacing_range!r}, must be a pair (min, max) of integers.")
    if low > high:
        raise InputError(f"spacing min == {low} is greater than spacing max == {high}; need min <= max.")
    if low <= -DIGIT_SIZE:
        raise InputError(f"spacing min == {low}, must be > -{DIGIT_SIZE} (digits may overlap, not pass each other).")
    return int(low), int(high)


def check_align(align: str) -> None:
    """Raise unless ``align`` is one of :data:`ALIGNS`."""
    if align not in ALIGNS:
        raise InputError(f"align == {align!r}, must be one of {list(ALIGNS)}.")


def min_width(length: int, spacing: int, overhang: int = 0) -> int:
    """Composed width of ``length`` 28-px cells with ``spacing`` px between neighbours and ``overhang`` px beyond each end."""
    return DIGIT_SIZE * length + spacing * (length - 1) + 2 * overhang


def check_layout(
    length: int,
    spacing_range: Sequence[int],
    width: int | None,
    *,
    mode: Mode = "random",
    measure: Measure = "cell",
    overhang: int = 0,
    height: int = DIGIT_SIZE,
) -> None:
    """Raise ``ValueError`` unless every sequence of ``length`` digits fits ``width``.

    The check assumes the largest gaps (``max`` spacing) and, with
    ``measure="ink"``, the widest possible ink (a whole cell, ``28 + 2
    overhang`` px, per digit), so a layout that passes fits whatever gaps and
    digits are drawn: gaps stay uniform over the whole range and nothing is
    ever clipped. ``width`` is the output width at output ``height``; the
    composition happens at :func:`digitgen.resample.composed_width` and an
    error names the smallest output width that fits.
    """
    if mode not in MODES:
        raise InputError(f"mode == {mode!r}, must be one of {list(MODES)}.")
    if measure not in MEASURES:
        raise InputError(f"measure == {measure!r}, must be one of {list(MEASURES)}.")
    low, high = check_spacing(spacing_range)
    if width is not None and (not isinstance(width, int | np.integer) or isinstance(width, bool) or width < 1):
        raise InputError(f"image width == {width!r}, must be a positive integer (or None for a tight image).")
    composed = None if width is None else composed_width(width, height)
    at = "" if height == DIGIT_SIZE else f" at height {height}"
    beyond = f" + 2 x {overhang} px of per-digit variation beyond the end cells" if overhang else ""

    def output(minimum: int) -> int:
        return min_output_width(minimum, height)

    if mode == "fill":
        if width is None:
            raise InputError("mode 'fill' needs an image width: the spacing is derived from it.")
        if measure != "cell":
            raise InputError(f"mode 'fill' spaces 28-px cells evenly; it needs measure 'cell', got {measure!r}.")
        if length == 1:
            if composed < min_width(1, 0, overhang):
                raise InputError(f"image width == {width} is too small for 1 digit{at}: the minimum width is {output(min_width(1, 0, overhang))}.")
            return
        spacing = (composed - 2 * overhang - DIGIT_SIZE * length) / (length - 1)
        if not (low <= np.floor(spacing) and np.ceil(spacing) <= high):
            raise InputError(
                f"mode 'fill': {length} digits in width {width}{at} need a spacing of {spacing:g} px, outside the "
                f"spacing range [{low}, {high}]; widths from {output(min_width(length, low, overhang))} to "
                f"{output(min_width(length, high, overhang) + 1) - 1} fit."
            )
        return
    cell = DIGIT_SIZE + 2 * overhang if measure == "ink" else DIGIT_SIZE
    need = cell * length + high * (length - 1) + (0 if measure == "ink" else 2 * overhang)
    if composed is not None and composed < need:
        parts = f"{length} x {cell} px + {length - 1} x {high} px" + (beyond if measure == "cell" else "")
        scaled = "" if height == DIGIT_SIZE else f", composed 28 px high and {need} px wide, then resampled"
        raise InputError(
            f"image width == {width} is too small for {length} digits with spacing up to {high} px{at}: "
            f"the minimum width is {output(need)} ({parts}{scaled}), "
            f"so that every gap drawn from [{low}, {high}] fits."
        )


# --------------------------------------------------------------------------- batch composer


def ink_extents(images: np.ndarray) -> np.ndarray:
    """Ink box of each 28x28 digit.

    Parameters
    ----------
    images : uint8 (N, H, W) (digits: 28 x 28; transformed digits: 28 x (28 + 2 overhang))

    Returns
    -------
    int16 (N, 4): ``left, top, right, bottom`` with exclusive ends. A digit with
    no ink at all gets the full cell ``0, 0, W, H``.
    """
    cols = images.max(axis=1) > 0
    rows = images.max(axis=2) > 0
    height, size = images.shape[1:]
    has_ink = cols.any(axis=1)
    left = np.where(has_ink, cols.argmax(axis=1), 0)
    right = np.where(has_ink, size - cols[:, ::-1].argmax(axis=1), size)
    top = np.where(has_ink, rows.argmax(axis=1), 0)
    bottom = np.where(has_ink, height - rows[:, ::-1].argmax(axis=1), height)
    return np.stack([left, top, right, bottom], axis=1).astype(np.int16)


def _fill_gaps(lengths: np.ndarray, width: int, slots: int) -> np.ndarray:
    """Equal spacing ``(W - 28 n) / (n - 1)`` per sequence, remainder pixels spread evenly."""
    gaps = np.zeros((len(lengths), max(slots - 1, 0)), dtype=np.int64)
    n_gaps = np.maximum(lengths - 1, 1)
    total = width - DIGIT_SIZE * lengths
    base, remainder = np.divmod(total, n_gaps)
    for g in range(slots - 1):
        extra = (g + 1) * remainder // n_gaps - g * remainder // n_gaps
        gaps[:, g] = np.where(g < lengths - 1, base + extra, 0)
    return gaps


def compose_batch(
    pool: np.ndarray,
    index: np.ndarray,
    spacing_range: Sequence[int],
    width: int | None,
    *,
    rng: np.random.Generator,
    mode: Mode = "random",
    measure: Measure = "cell",
    align: Align = "random",
    extents: np.ndarray | None = None,
) -> ComposedBatch:
    """Compose a batch of digit sequences with whole-array operations.

    Parameters
    ----------
    pool : uint8 (N, 28, 28) digit images to draw from, or uint8 (N, 28, 28 + 2 overhang)
        transformed digits whose nominal cell is columns ``overhang .. overhang + 27``.
    index : int (B, L_max) rows of ``pool`` for each sequence, left to right,
        padded with -1 after the last digit; every row has at least one digit.
    spacing_range : ``(min, max)`` gap in pixels, drawn uniformly per gap.
    width : output width W, or None for the narrowest width holding the batch.
    rng : source of every random draw (gaps, then margins).
    mode, measure, align : see the module docstring.
    extents : int16 (N, 4) from :func:`ink_extents` of ``pool``; computed if None.

    Returns
    -------
    ComposedBatch with images uint8 (B, 28, W) and boxes int16 (B, L_max, 4).
    ``width`` is the composed width here (no height resampling).
    """
    index = np.asarray(index, dtype=np.int64)
    if index.ndim != 2 or index.shape[1] == 0:
        raise InputError(f"index has shape {index.shape}, must be (batch, max_length) with max_length >= 1.")
    active = index >= 0
    lengths = active.sum(axis=1)
    if np.any(lengths == 0) or np.any(active[:, 1:] & ~active[:, :-1]):
        raise InputError("index rows must hold at least one digit and be padded with -1 only at the end.")
    check_align(align)
    overhang = (pool.shape[-1] - DIGIT_SIZE) // 2
    if pool.ndim != 3 or pool.shape[1] != DIGIT_SIZE or pool.shape[2] != DIGIT_SIZE + 2 * overhang:
        raise InputError(f"pool has shape {pool.shape}, must be (N, 28, 28 + 2 overhang) digit cells.")
    for length in np.unique(lengths):
        check_layout(int(length), spacing_range, width, mode=mode, measure=measure, overhang=overhang)
    low, high = check_spacing(spacing_range)
    if extents is None:
        extents = ink_extents(pool)
    batch, slots = index.shape
    safe = np.where(active, index, 0)
    ext = extents[safe].astype(np.int64)  # (B, L, 4): left, top, right, bottom
    left, top, right, bottom = ext[..., 0], ext[..., 1], ext[..., 2], ext[..., 3]

    if mode == "fill":
        gaps = _fill_gaps(lengths, width - 2 * overhang, slots)
    else:
        gaps = rng.integers(low, high + 1, size=(batch, max(slots - 1, 0)), dtype=np.int64)

    # x of each digit's left cell edge, relative to the first digit's reference point.
    cell_x = np.zeros((batch, slots), dtype=np.int64)
    if measure == "cell":
        for slot in range(1, slots):
            cell_x[:, slot] = cell_x[:, slot - 1] + DIGIT_SIZE + gaps[:, slot - 1]
        start = np.zeros(batch, dtype=np.int64)
        end = np.where(active, cell_x + DIGIT_SIZE, np.iinfo(np.int64).min).max(axis=1)
        if overhang:  # the content is the nominal cells and the ink, which can reach beyond them
            cell_x -= overhang  # from here on: the transformed cell's left edge
            start = np.minimum(start, np.where(active, cell_x + left, np.iinfo(np.int64).max).min(axis=1))
            end = np.maximum(end, np.where(active, cell_x + right, np.iinfo(np.int64).min).max(axis=1))
    else:
        ink_x = np.zeros((batch, slots), dtype=np.int64)
        for slot in range(1, slots):
            ink_x[:, slot] = ink_x[:, slot - 1] + (right - left)[:, slot - 1] + gaps[:, slot - 1]
        cell_x = ink_x - left
        start = np.where(active, ink_x, np.iinfo(np.int64).max).min(axis=1)
        end = np.where(active, ink_x + right - left, np.iinfo(np.int64).min).max(axis=1)
    content = end - start
    out_width = int(content.max()) if width is None else int(width)
    slack = out_width - content
    if np.any(slack < 0):  # unreachable after check_layout; kept as a guard against silent clipping
        raise InputError(f"content of width {int(content.max())} does not fit image width {out_width}.")
    if mode == "fill" or align == "center":
        offset = slack // 2
    else:
        offset = rng.integers(0, slack + 1)
    x = cell_x - start[:, None] + offset[:, None]

    images = np.zeros((batch, DIGIT_SIZE, out_width), dtype=np.uint8)
    cells_may_overlap = measure == "ink" or low < 0 or overhang > 0
    for slot in range(slots):
        rows = np.flatnonzero(active[:, slot])
        _paste_slot(images, pool, index[rows, slot], rows, x[rows, slot], merge=cells_may_overlap and slot > 0)

    boxes = np.stack([x + left, top, x + right, bottom], axis=-1)
    boxes[~active] = -1
    return ComposedBatch(images=images, boxes=boxes.astype(np.int16))


def _paste_slot(
    images: np.ndarray, pool: np.ndarray, digit_rows: np.ndarray, rows: np.ndarray, xs: np.ndarray, *, merge: bool
) -> None:
    """Paste ``pool[digit_rows]`` into ``images[rows]`` with left cell edges at ``xs``.

    A cell-sized window of the image buffer starting at flat offset ``k`` is
    ``blocks[k]`` of a strided view, so a whole slot is one vectorised
    scatter. Cells that stick out of the image (only blank columns can) are
    pasted clipped, grouped by x.
    """
    _, height, width = images.shape
    cell = pool.shape[2]
    inside = (xs >= 0) & (xs <= width - cell)
    if inside.any():
        flat = images.reshape(-1)
        blocks = np.lib.stride_tricks.as_strided(
            flat, shape=(flat.size - (height - 1) * width - cell + 1, height, cell), strides=(1, width, 1)
        )
        offsets = rows[inside] * (height * width) + xs[inside]
        cells = pool[digit_rows[inside]]
        if merge:
            np.maximum(cells, blocks[offsets], out=cells)
        blocks[offsets] = cells
    for x0 in np.unique(xs[~inside]):
        members = np.flatnonzero(xs == x0)
        lo, hi = max(int(x0), 0), min(int(x0) + cell, width)
        clipped = pool[digit_rows[members], :, lo - x0 : hi - x0]
        target = rows[members]
        if merge:
            clipped = np.maximum(images[target, :, lo:hi], clipped)
        images[target, :, lo:hi] = clipped
