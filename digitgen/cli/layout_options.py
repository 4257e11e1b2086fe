"""The layout options shared by ``digitgen sequence`` and ``digitgen dataset``: height, per-digit variation, degradations.

Each option is checked with the rule of its ``sequences`` key (:mod:`digitgen.params.digit`,
:mod:`digitgen.params.degrade`, ``SequencesParams.height``), so the CLI, the
Python API and params.yaml accept exactly the same values; a bad value is
refused naming the option before any work.
"""

from __future__ import annotations

import argparse
from typing import Any

from digitgen.errors import invalid
from digitgen.params.core import rules_of
from digitgen.params.degrade import DEGRADATIONS, DegradeParams
from digitgen.params.digit import DigitParams

#: ``--option`` -> ``sequences.digit`` field.
DIGIT_OPTIONS = {"rotation": "rotation", "shear": "shear", "offset_y": "offset_y", "thickness": "thickness"}


def add(parser: argparse.ArgumentParser) -> None:
    """Add ``--height``, ``--scale``, ``--rotation``, ``--shear``, ``--offset-y``, ``--thickness`` and ``--degrade`` to ``parser``."""
    group = parser.add_argument_group("layout (as the sequences keys of the same names; default: off, or params.yaml's)")
    group.add_argument("--height", type=int, help="image height in pixels, 8..512 (composed 28 px high, then resampled; WIDTH is the output width)")
    group.add_argument("--scale", type=float, nargs=2, metavar=("MIN", "MAX"), help="per-digit size factor range, each in [0.25, 2]")
    group.add_argument("--rotation", type=float, help="per-digit rotation, degrees, uniform in +-this; [0, 90]")
    group.add_argument("--shear", type=float, help="per-digit shear, degrees, uniform in +-this (positive leans right); [0, 60]")
    group.add_argument("--offset-y", dest="offset_y", type=float, help="per-digit baseline jitter, pixels at 28 px, uniform in +-this; [0, 14]")
    group.add_argument("--thickness", type=float, help="per-digit stroke width change, pixels, uniform in +-this; [0, 4]")
    group.add_argument(
        "--degrade", action="append", default=[], metavar="NAME=P",
        help=f"apply degradation NAME (one of {list(DEGRADATIONS)}) to a share P in [0, 1] of the images (repeatable)",
    )


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The options given, checked, as ``sequences`` keys: ``height``, ``digit`` and ``degrade`` mappings (only what was given)."""
    from digitgen.params.sequences import SequencesParams

    out: dict[str, Any] = {}
    if args.height is not None:
        out["height"] = rules_of(SequencesParams)["height"].check(args.height, "--height")
    rules = rules_of(DigitParams)
    digit: dict[str, Any] = {}
    if args.scale is not None:
        scale = rules["scale"].check(list(args.scale), "--scale")
        if scale[0] > scale[1]:
            raise invalid("--scale", list(args.scale), "must be a range MIN MAX with MIN <= MAX")
        digit["scale"] = list(scale)
    for option, field in DIGIT_OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            digit[field] = rules[field].check(value, "--" + option.replace("_", "-"))
    if digit:
        out["digit"] = digit
    degrade: dict[str, Any] = {}
    sections = rules_of(DegradeParams)
    for text in args.degrade:
        name, _, value = text.partition("=")
        if name not in DEGRADATIONS or not value:
            raise invalid("--degrade", text, f"must be NAME=P with NAME one of {list(DEGRADATIONS)}")
        try:
            number = float(value)
        except ValueError:
            raise invalid(f"--degrade {name}", value, "must be a probability in [0, 1]") from None
        p = rules_of(sections[name].cls)["p"].check(number, f"--degrade {name}")
        degrade[name] = {"p": p}
    if degrade:
        out["degrade"] = degrade
    return out
