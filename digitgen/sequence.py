"""One digit sequence as an image: the Python API of digitgen's composer (:mod:`digitgen.compose`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import numpy as np

from digitgen.bank import DigitBank
from digitgen.compose import (
    Align,
    Measure,
    Mode,
    check_align,
    check_layout,
    compose_batch,
    parse_digits,
)
from digitgen.data.cache import load_real_bank
from digitgen.errors import InputError


def compose_sequence(
    digits: str | Sequence[int],
    spacing_range: Sequence[int],
    image_width: int | None,
    *,
    bank=None,
    rng: np.random.Generator | int | None = None,
    mode: Mode = "random",
    measure: Measure = "cell",
    align: Align = "random",
    split: Literal["train", "test"] = "test",
    data: str | os.PathLike | None = None,
) -> np.ndarray:
    """Compose one image of a digit sequence.

    Parameters
    ----------
    digits : ``"2934"`` or ``[2, 9, 3, 4]``.
    spacing_range : ``(min, max)`` gap in pixels, drawn uniformly per gap.
    image_width : output width in pixels, or None for a tight image.
    bank : a :class:`digitgen.bank.DigitBank` to draw digits from; by default
        real MNIST digits of ``split`` (see :func:`digitgen.data.cache.load_real_bank`).
    rng : a ``numpy.random.Generator`` or an integer seed; None draws fresh entropy.
    mode, measure, align : see the module docstring.
    split : MNIST split used when ``bank`` is None.
    data : path to ``mnist.npz`` used when ``bank`` is None.

    Returns
    -------
    float32 (28, W) in [0, 1], 0 = background.
    """
    wanted = parse_digits(digits)
    check_layout(len(wanted), spacing_range, image_width, mode=mode, measure=measure)
    check_align(align)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if bank is None:
        bank = load_real_bank(split, data)
    elif not isinstance(bank, DigitBank):
        raise InputError(f"bank must be a digitgen.bank.DigitBank, got {type(bank).__name__}.")
    rows = bank.draw(wanted, rng)
    composed = compose_batch(
        bank.images, rows[None, :], spacing_range, image_width, rng=rng, mode=mode, measure=measure, align=align
    )
    return composed.images[0].astype(np.float32) / np.float32(255)
