"""``digitgen sequence DIGITS MIN MAX WIDTH``: one digit sequence as a PNG (compatible with the classic tool).

Every layout option of the ``sequences`` stage is an option here too
(:mod:`digitgen.cli.layout_options`): the classic ones keep their names
(``MIN``, ``MAX``, ``WIDTH``, ``--mode``, ``--measure``, ``--align``), every
other is ``--<key>`` with its params.yaml key relative to ``sequences``
(``--degrade.blur.p 0.5``, ``--degrade.blur.sigma 0.4,1.2``), so an option
added to the section is on the command line without code here.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from digitgen.cli import layout_options
from digitgen.cli.common import SEED, output_file, project_banks, width
from digitgen.compose import ALIGNS, MEASURES, MODES
from digitgen.constants import SOURCE_NAMES, SPLIT_NAMES
from digitgen.rules import OneOf

#: Layout options with a classic name on the command line; every other option ``key`` is ``--key``.
CLASSIC_NAMES = {"width": "WIDTH", "spacing.min": "MIN", "spacing.max": "MAX", "spacing.measure": "--measure", "mode": "--mode", "align": "--align"}


def option_name(key: str) -> str:
    """How the command line spells layout option ``key`` (``WIDTH``, ``--measure``, ``--degrade.blur.p``)."""
    return CLASSIC_NAMES.get(key, "--" + key)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    seq = commands.add_parser(
        "sequence",
        help="compose one digit sequence into a PNG",
        description="Compose DIGITS into one PNG (28 px high unless --height; white ink on black, like MNIST) and print its path.",
    )
    seq.add_argument("digits", help="the digits to write, e.g. 2934")
    seq.add_argument("min_spacing", type=int, help="smallest gap between digits, in pixels (negative: overlap)")
    seq.add_argument("max_spacing", type=int, help="largest gap between digits, in pixels")
    seq.add_argument("width", type=width, help="image width in pixels, or 'tight'")
    seq.add_argument("--out", type=Path, help="output PNG (default: 2-9-3-4.png in the current folder)")
    seq.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy)")
    seq.add_argument("--source", default="real", help=f"digit source: one of {list(SOURCE_NAMES)} (default: real)")
    seq.add_argument("--split", choices=SPLIT_NAMES, default="test", help="MNIST split for --source real (default: test)")
    seq.add_argument("--data", type=Path, help="mnist.npz to draw real digits from (default: the project's, else the user cache)")
    seq.add_argument("--banks", type=Path, help="folder of generated banks (default: the project's data/banks)")
    seq.add_argument("--mode", choices=MODES, default="random", help="random gaps, or one equal gap filling WIDTH")
    seq.add_argument("--measure", choices=MEASURES, default="cell", help="measure gaps between 28-px cells or ink")
    seq.add_argument("--align", choices=ALIGNS, default="random", help="where the slack goes (default: random)")
    layout_options.add(seq, skip=CLASSIC_NAMES)
    seq.set_defaults(run=run)


def layout_values(args: argparse.Namespace) -> dict:
    """Layout option key -> value given on the command line (the classic arguments and the ``--<key>`` options)."""
    values = {"width": args.width, "spacing.min": args.min_spacing, "spacing.max": args.max_spacing,
              "spacing.measure": args.measure, "mode": args.mode, "align": args.align}
    return {**values, **layout_options.given(args, option_name)}


def run(args: argparse.Namespace) -> None:
    """Compose the sequence, write the PNG and print its path."""
    import numpy as np

    from digitgen.bank import bank_path, load_bank
    from digitgen.compose import parse_digits
    from digitgen.data.cache import load_real_bank
    from digitgen.pictures import save_png
    from digitgen.sequence import LENGTH_RULE, build_layout, compose_record

    digits = parse_digits(args.digits)
    LENGTH_RULE.check(len(digits), "DIGITS length")
    layout = build_layout(len(digits), layout_values(args), option_name)
    OneOf(SOURCE_NAMES).check(args.source, "--source")
    seed = secrets.randbits(63) if args.seed is None else SEED.check(args.seed, "--seed")
    out = output_file(args.out or Path("-".join(args.digits) + ".png"))
    if args.source == "real":
        bank = load_real_bank(args.split, args.data)
    else:
        bank = load_bank(bank_path(args.banks or project_banks(), args.source), args.source)
    arrays = compose_record(args.digits, layout, bank, np.random.default_rng(seed))
    save_png(out, arrays["images"][0])
    print(out)
