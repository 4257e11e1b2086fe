"""``digitgen sequence DIGITS MIN MAX WIDTH``: one digit sequence as a PNG (compatible with the classic tool)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digitgen.cli import layout_options
from digitgen.cli.common import SEED, output_file, project_banks, width
from digitgen.constants import SOURCE_NAMES, SPLIT_NAMES
from digitgen.params.sequences import MAX_LENGTH, MAX_WIDTH
from digitgen.rules import Int, OneOf


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
    seq.add_argument("--mode", choices=("random", "fill"), default="random", help="random gaps, or one equal gap filling WIDTH")
    seq.add_argument("--measure", choices=("cell", "ink"), default="cell", help="measure gaps between 28-px cells or ink")
    seq.add_argument("--align", choices=("random", "center"), default="random", help="where the slack goes (default: random)")
    layout_options.add(seq)
    seq.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Compose the sequence, write the PNG and print its path."""
    from PIL import Image

    from digitgen.bank import bank_path, load_bank
    from digitgen.compose import check_layout, parse_digits
    from digitgen.data.cache import load_real_bank
    from digitgen.params.core import build_section
    from digitgen.params.degrade import DegradeParams
    from digitgen.params.digit import DigitParams
    from digitgen.sequence import compose_sequence
    from digitgen.transform import overhang

    digits = parse_digits(args.digits)
    Int(1, MAX_LENGTH, allowed=f"must be 1 to {MAX_LENGTH} digits").check(len(digits), "DIGITS length")
    if args.width is not None:
        Int(1, MAX_WIDTH).check(args.width, "WIDTH")
    options = layout_options.overrides(args)
    height = options.get("height", 28)
    digit = build_section(DigitParams, options.get("digit"), "--digit")
    degrade = build_section(DegradeParams, options.get("degrade"), "--degrade")
    check_layout(
        len(digits), (args.min_spacing, args.max_spacing), args.width, mode=args.mode, measure=args.measure,
        overhang=overhang(digit), height=height,
    )
    OneOf(SOURCE_NAMES).check(args.source, "--source")
    seed = None if args.seed is None else SEED.check(args.seed, "--seed")
    out = output_file(args.out or Path("-".join(args.digits) + ".png"))
    if args.source == "real":
        bank = load_real_bank(args.split, args.data)
    else:
        bank = load_bank(bank_path(args.banks or project_banks(), args.source), args.source)
    image = compose_sequence(
        args.digits,
        (args.min_spacing, args.max_spacing),
        args.width,
        bank=bank,
        rng=np.random.default_rng(seed),
        mode=args.mode,
        measure=args.measure,
        align=args.align,
        height=height,
        digit=digit,
        degrade=degrade,
    )
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(out)
    print(out)
