"""From chosen digits to finished sequence images: per-digit variation, composition, height, degradations.

The steps, in order, each skipped when its options change nothing:

1. per-digit variation (:mod:`digitgen.transform`): each digit transformed
   in its own cell, its box the extent of its transformed ink;
2. composition (:func:`digitgen.compose.compose_batch`) 28 px high at the
   composed width (:func:`digitgen.resample.composed_width`);
3. height resampling (:mod:`digitgen.resample`) of the images, and of the
   boxes by the same map;
4. degradations (:mod:`digitgen.degrade`) of the final image (boxes unchanged).

With every option at its default this is exactly :func:`digitgen.compose.compose_batch`
on the pool (same draws, same bytes). Random draws: the variation from
``variation_rng``, then gaps and margins, then degradations from ``rng``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from digitgen import transform
from digitgen.compose import (
    Align,
    ComposedBatch,
    Measure,
    Mode,
    compose_batch,
    ink_extents,
)
from digitgen.constants import DIGIT_SIZE
from digitgen.degrade import degrade
from digitgen.params.degrade import DegradeParams
from digitgen.params.digit import DigitParams
from digitgen.resample import composed_width, resample_boxes, resample_images


@dataclass(frozen=True)
class Layout:
    """Everything that shapes a sequence image besides which digits it shows (the ``sequences`` keys of the same names)."""

    spacing: tuple[int, int]
    width: int | None
    mode: Mode = "random"
    measure: Measure = "cell"
    align: Align = "random"
    digit: DigitParams = field(default_factory=DigitParams)
    height: int = DIGIT_SIZE
    degrade: DegradeParams = field(default_factory=DegradeParams)

    @classmethod
    def of(cls, params) -> Layout:
        """The layout of a :class:`digitgen.params.sequences.SequencesParams`."""
        return cls(
            (params.spacing.min, params.spacing.max), params.width, params.mode, params.spacing.measure, params.align,
            params.digit, params.height, params.degrade,
        )

    @property
    def varies_digits(self) -> bool:
        """Whether each digit is transformed before composition."""
        return transform.is_active(self.digit)


@dataclass(frozen=True)
class LaidOut:
    """Finished sequences: ``images`` uint8 (B, height, W), ``boxes`` int16 (B, L, 4), and ``clipped``, digits whose ink was cut."""

    images: np.ndarray
    boxes: np.ndarray
    clipped: int = 0


def lay_out(
    pool: np.ndarray,
    index: np.ndarray,
    layout: Layout,
    *,
    rng: np.random.Generator,
    variation_rng: np.random.Generator | None = None,
    extents: np.ndarray | None = None,
    replaced: tuple[np.ndarray, np.ndarray] | None = None,
) -> LaidOut:
    """Compose sequences of pool digits under ``layout`` (see the module docstring).

    Parameters
    ----------
    pool : uint8 (N, 28, 28) digits; index : int (B, L) rows of ``pool``, -1 padded (as for ``compose_batch``).
    layout : the options.
    rng : gaps, margins, then degradations; variation_rng : the per-digit variation (default ``rng``).
    extents : int16 (N, 4) ink boxes of ``pool`` (computed if None).
    replaced : ``(where, digits)``: bool (B, L) slots whose digit is not a pool row but one of
        uint8 (k, 28, 28) ``digits`` (in row-major slot order), e.g. digits decoded for writer mode.

    Returns
    -------
    LaidOut
    """
    index = np.asarray(index, np.int64)
    composed_w = None if layout.width is None else composed_width(layout.width, layout.height)
    clipped = 0
    if not layout.varies_digits and replaced is None:
        composed = _compose(pool, index, layout, composed_w, rng, extents)
    else:
        active = index >= 0
        rows = index[active]
        digits = pool[rows]
        ext = (ink_extents(pool) if extents is None else np.asarray(extents))[rows]
        if replaced is not None:
            where, decoded = replaced
            mine = where[active]
            digits[mine] = decoded
            ext = ext.copy()
            ext[mine] = ink_extents(decoded)
        if layout.varies_digits:
            variation = transform.draw_variation(len(digits), layout.digit, rng if variation_rng is None else variation_rng)
            cells = transform.transform_digits(digits, ext, variation, transform.overhang(layout.digit))
            digits, ext, clipped = cells.cells, cells.extents, int(cells.clipped.sum())
        local = np.full(index.shape, -1, np.int64)
        local[active] = np.arange(len(digits))
        composed = _compose(digits, local, layout, composed_w, rng, ext)
    images, boxes = composed.images, composed.boxes
    if layout.height != DIGIT_SIZE:
        out_w = layout.width
        if out_w is None:  # a tight image: the composed width scaled to the height, rounded half up
            out_w = max(1, (2 * images.shape[2] * layout.height + DIGIT_SIZE) // (2 * DIGIT_SIZE))
        boxes = resample_boxes(boxes, images.shape[1:], (layout.height, out_w))
        images = resample_images(images, layout.height, out_w)
    return LaidOut(degrade(images, layout.degrade, rng), boxes, clipped)


def _compose(pool, index, layout: Layout, width, rng, extents) -> ComposedBatch:
    return compose_batch(
        pool, index, layout.spacing, width, rng=rng, mode=layout.mode, measure=layout.measure, align=layout.align, extents=extents
    )


def describe(layout: Layout) -> Sequence[str]:
    """The options of ``layout`` that change anything, as short phrases (for reports and logs)."""
    out = []
    digit = layout.digit
    if tuple(digit.scale) != (1.0, 1.0):
        out.append(f"scale {digit.scale[0]:g}-{digit.scale[1]:g}")
    for name, unit in (("rotation", "deg"), ("shear", "deg"), ("offset_y", "px"), ("thickness", "px")):
        if getattr(digit, name) > 0:
            out.append(f"{name} ±{getattr(digit, name):g} {unit}")
    if layout.height != DIGIT_SIZE:
        out.append(f"height {layout.height} px")
    for name in ("background", "blur", "contrast", "gamma", "noise", "invert"):
        if getattr(layout.degrade, name).p > 0:
            out.append(f"{name} p {getattr(layout.degrade, name).p:g}")
    return out
