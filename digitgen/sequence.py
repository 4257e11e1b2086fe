"""One digit sequence as an image: the Python API of digitgen's composer (:mod:`digitgen.compose`, :mod:`digitgen.layout`).

:func:`compose_sequence` is the plain API. :func:`compose_record` composes one
sequence with every layout option of the ``sequences`` stage (its params keys
but those that shape a whole dataset, :data:`DATASET_KEYS`), and returns it as
the arrays of a one-row shard; ``digitgen sequence`` and the studio's
``/api/sequence`` both call it, so the same options and seed give the same
bytes. :func:`build_layout` checks those options with the rules of
``params.yaml`` (:func:`layout_options`) and names a bad one as the caller
spells it (``--degrade.blur.p`` on the command line, ``degrade.blur.p`` in a
query). The layout options (``height``, per-digit variation ``digit``,
``degrade``, ...) take the values of the ``sequences`` keys of the same names
and are checked by the same rules.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from digitgen import contract
from digitgen.bank import DigitBank
from digitgen.compose import (
    Align,
    Measure,
    Mode,
    check_align,
    check_layout,
    min_width,
    parse_digits,
)
from digitgen.constants import DIGIT_SIZE
from digitgen.data.cache import load_real_bank
from digitgen.errors import InputError, invalid
from digitgen.layout import Layout, lay_out
from digitgen.options import Option, flat_options, nest
from digitgen.params.core import build_section, rules_of
from digitgen.params.degrade import DegradeParams
from digitgen.params.digit import DigitParams
from digitgen.params.sequences import MAX_LENGTH, MAX_WIDTH, SequencesParams
from digitgen.rules import Int
from digitgen.transform import overhang

#: Keys of ``sequences`` that shape a whole dataset rather than one sequence; every other key is a layout option.
DATASET_KEYS = (
    "seed", "length", "digit_weights", "shard_size", "compress_level", "previews", "workers", "executor", "scheduler",
    "scheduler_timeout", "formats", "splits",
)
#: Rule of the number of digits in one sequence (the bound of ``sequences.length``).
LENGTH_RULE = Int(1, MAX_LENGTH, allowed=f"must be 1 to {MAX_LENGTH} digits")


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


# --------------------------------------------------------------------------- one sequence with every layout option


def layout_options() -> dict[str, Option]:
    """The layout options of one sequence: every ``sequences`` key but :data:`DATASET_KEYS`, flattened (``degrade.blur.p``)."""
    return dict(_layout_options())


@functools.cache
def _layout_options() -> dict[str, Option]:  # built once: every studio request reads it (2 ms a time)
    return flat_options(SequencesParams, exclude=DATASET_KEYS)


@dataclass(frozen=True)
class CheckedLayout:
    """A checked layout of one sequence.

    Attributes
    ----------
    params : a ``sequences`` section holding the layout options asked for (the others at their defaults).
    width : the output width, or None for a tight image (``params.width`` then only satisfies its rule).
    length : the number of digits the layout was checked for.
    values : layout option -> value, for the options that were given (canonical types).
    """

    params: SequencesParams
    width: int | None
    length: int
    values: Mapping[str, Any]


def build_layout(length: int, values: Mapping[str, Any], name: Callable[[str], str] = str) -> CheckedLayout:
    """Check layout options for a sequence of ``length`` digits and build its :class:`CheckedLayout`.

    Parameters
    ----------
    length : digits in the sequence (1..MAX_LENGTH).
    values : layout option key (see :func:`layout_options`) -> value; ``width`` may be None (tight).
        Missing options take the ``sequences`` defaults.
    name : how the caller spells an option in messages (``"degrade.blur.p"`` -> ``"--degrade.blur.p"``).

    Raises
    ------
    InputError
        Naming the option as ``name`` spells it (``.key``), the value and what is allowed; a width too small
        for the digits and spacing states the minimum width.
    """
    options = layout_options()
    unknown = [key for key in values if key not in options]
    if unknown:
        raise InputError(f"unknown layout option {name(unknown[0])!s}; valid options are {sorted(name(k) for k in options)}.", name(unknown[0]))
    checked = {key: value if key == "width" and value is None else options[key].rule.check(value, name(key)) for key, value in values.items()}
    current = {key: checked.get(key, option.default) for key, option in options.items()}
    width = checked["width"] if "width" in checked else options["width"].default
    low, high = current["spacing.min"], current["spacing.max"]
    mode, measure, height = current["mode"], current["spacing.measure"], current["height"]
    digit_values = {key.removeprefix("digit."): value for key, value in current.items() if key.startswith("digit.")}
    try:
        reach = overhang(build_section(DigitParams, nest(digit_values), "sequences.digit"))
    except InputError as error:  # a range [min, max] with min > max
        raise _renamed(error, options, name) from None
    try:
        check_layout(length, (low, high), width, mode=mode, measure=measure, overhang=reach, height=height)
    except InputError as error:
        text = str(error)
        key = "spacing.min" if text.startswith("spacing min") else "spacing.measure" if "needs measure" in text else "width"
        raise InputError(text, name(key)) from None
    tight = tight_width(length, high, reach, height)
    if width is None and tight > MAX_WIDTH:
        raise invalid(name("width"), "tight", f"{length} digits with spacing up to {high} px can be {tight} px wide; at most {MAX_WIDTH} px fit")
    mapping = {**checked, "width": width if width is not None else tight, "length.min": length, "length.max": length, "shard_size": 1}
    try:
        params = build_section(SequencesParams, nest(mapping), "sequences")
    except InputError as error:  # a rule tying options together (e.g. a range [min, max] with min > max)
        raise _renamed(error, options, name) from None
    return CheckedLayout(params, width, length, checked)


def tight_width(length: int, spacing: int, reach: int, height: int) -> int:
    """Widest output width of a tight sequence: ``length`` cells, gaps of ``spacing`` px, ``reach`` px of variation beyond each end, at ``height``."""
    composed = min_width(length, spacing, reach)
    return composed if height == DIGIT_SIZE else max(1, (2 * composed * height + DIGIT_SIZE) // (2 * DIGIT_SIZE))


def _renamed(error: InputError, options: Mapping[str, Option], name: Callable[[str], str]) -> InputError:
    """``error`` with every ``sequences.<key>`` of its message spelt as ``name(key)``."""
    text = str(error)
    for key in sorted(options, key=len, reverse=True):
        text = text.replace(f"sequences.{key}", name(key))
    key = error.key.removeprefix("sequences.") if error.key else None
    return InputError(text.removeprefix("sequences: "), name(key) if key in options else key)


def compose_record(digits: str | Sequence[int], layout: CheckedLayout, bank: DigitBank, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Compose one sequence with its layout, as the arrays of a one-row shard (:data:`digitgen.contract.SHARD_ARRAYS`).

    The draws follow :func:`compose_sequence` (the bank's rows, then the per-digit variation, gaps and margins,
    then the degradations), through :func:`digitgen.layout.lay_out` as in the ``sequences`` stage.

    Parameters
    ----------
    digits : ``"2934"`` or ``[2, 9, 3, 4]``; as many as ``layout.length``.
    layout : from :func:`build_layout`.
    bank : the digits to draw from.
    rng : source of every random draw.

    Returns
    -------
    images uint8 (1, height, W); labels int16 (1, L); lengths int16 (1,); boxes int16 (1, L, 4); sources int8 (1, L);
    source_names str (1,); source_index int32 (1, L).
    """
    wanted = parse_digits(digits)
    if len(wanted) != layout.length:
        raise InputError(f"digits {digits!r} are {len(wanted)} digits; the layout was checked for {layout.length}.")
    p = layout.params
    rows = bank.draw(wanted, rng)
    # the drawn digits alone as the pool: the same picture, without the ink boxes of the whole bank (77 ms for 10,000 digits)
    laid = lay_out(bank.images[rows], np.arange(len(rows))[None, :], dataclasses.replace(Layout.of(p), width=layout.width), rng=rng)
    arrays = {
        "images": laid.images,
        "labels": wanted[None, :].astype(np.int16),
        "lengths": np.array([len(wanted)], np.int16),
        "boxes": laid.boxes,
        "sources": np.zeros((1, len(wanted)), np.int8),
        "source_names": np.array([bank.name]),
        "source_index": rows[None, :].astype(np.int32),
    }
    contract.check_shard(arrays, "sequence")
    return arrays
