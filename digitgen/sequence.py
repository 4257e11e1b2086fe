"""One digit sequence as an image: the Python API of digitgen's composer (:mod:`digitgen.compose`, :mod:`digitgen.layout`).

The layout options (``height``, per-digit variation ``digit``, ``degrade``)
take the values of the ``sequences`` keys of the same names and are checked
by the same rules (:mod:`digitgen.params.digit`, :mod:`digitgen.params.degrade`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from digitgen.bank import DigitBank
from digitgen.compose import (
    Align,
    Measure,
    Mode,
    check_align,
    check_layout,
    parse_digits,
)
from digitgen.constants import DIGIT_SIZE
from digitgen.data.cache import load_real_bank
from digitgen.errors import InputError
from digitgen.layout import Layout, lay_out
from digitgen.params.core import build_section, rules_of
from digitgen.params.degrade import DegradeParams
from digitgen.params.digit import DigitParams
from digitgen.params.sequences import SequencesParams
from digitgen.transform import overhang


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
    height: int = DIGIT_SIZE,
    digit: DigitParams | Mapping[str, Any] | None = None,
    degrade: DegradeParams | Mapping[str, Any] | None = None,
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
    height : output height in pixels (``sequences.height``); ``image_width`` is the output width.
    digit : per-digit variation (``sequences.digit``), e.g. ``{"rotation": 10, "scale": [0.8, 1.2]}``.
    degrade : degradations of the final image (``sequences.degrade``), e.g. ``{"blur": {"p": 1}}``.

    Returns
    -------
    float32 (height, W) in [0, 1], 0 = background (1 = background where inverted).
    """
    wanted = parse_digits(digits)
    height = rules_of(SequencesParams)["height"].check(height, "height")
    digit = digit if isinstance(digit, DigitParams) else build_section(DigitParams, digit, "digit")
    degrade = degrade if isinstance(degrade, DegradeParams) else build_section(DegradeParams, degrade, "degrade")
    check_layout(len(wanted), spacing_range, image_width, mode=mode, measure=measure, overhang=overhang(digit), height=height)
    check_align(align)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if bank is None:
        bank = load_real_bank(split, data)
    elif not isinstance(bank, DigitBank):
        raise InputError(f"bank must be a digitgen.bank.DigitBank, got {type(bank).__name__}.")
    rows = bank.draw(wanted, rng)
    layout = Layout(tuple(spacing_range), image_width, mode, measure, align, digit, height, degrade)
    laid = lay_out(bank.images, rows[None, :], layout, rng=rng)
    return laid.images[0].astype(np.float32) / np.float32(255)
