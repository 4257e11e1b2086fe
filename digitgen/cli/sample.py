"""``digitgen sample --generator NAME``: digits of a fitted generator as a PNG mosaic."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digitgen.cli.common import SEED, output_file, project_models
from digitgen.errors import InputError
from digitgen.params.fit_kde import KDE_RULES
from digitgen.params.train_autoencoder import PAIR
from digitgen.rules import Int

#: Most digits one ``digitgen sample`` draws.
MAX_SAMPLES = 100_000
#: Model folder of each generator under data/models/.
MODEL_FOLDERS = {"kde": "kde", "cvae": "cvae", "ambiguous": "autoencoder"}


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    smp = commands.add_parser(
        "sample",
        help="draw digits from a fitted generator into a PNG mosaic",
        description="Draw N digits from a fitted generator (the conditional model with --digit, else the global one), "
        "write them as a PNG mosaic and print its path.",
    )
    smp.add_argument("--generator", choices=tuple(MODEL_FOLDERS), default="kde", help="which generator (default: kde)")
    smp.add_argument(
        "--pair", type=int, nargs=2, metavar=("A", "B"),
        help="ambiguous digits between classes A and B (--generator ambiguous; default: --digit and its nearest class)",
    )
    smp.add_argument("--digit", type=int, help="digit 0-9 to draw (conditional model); omit for the global model")
    smp.add_argument("-n", type=int, default=16, help=f"number of digits (default: 16, at most {MAX_SAMPLES})")
    smp.add_argument("--rejection", type=_rejection, help="none, light, medium, strict or a percentile (default: the model's)")
    smp.add_argument("--cleaning", help="none, light, medium or aggressive (default: the model's)")
    smp.add_argument("--columns", type=int, default=8, help="images per mosaic row (default: 8)")
    smp.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy)")
    smp.add_argument("--models", type=Path, help="folder of the fitted models (default: the project's data/models/<generator>)")
    smp.add_argument("--out", type=Path, help="output PNG (default: <generator>-<digit or all>.png in the current folder)")
    smp.set_defaults(run=run)


def _rejection(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> None:
    """Check the options, draw the digits, write the mosaic and print its path."""
    from digitgen.pictures import mosaic, save_png

    Int(1, MAX_SAMPLES).check(args.n, "-n")
    Int(1, 1000).check(args.columns, "--columns")
    if args.digit is not None:
        Int(0, 9, allowed="must be a digit 0-9 (or omitted for the global model)").check(args.digit, "--digit")
    seed = None if args.seed is None else SEED.check(args.seed, "--seed")
    if args.pair is not None and args.generator != "ambiguous":
        raise InputError(f"--pair applies to --generator ambiguous only, not {args.generator!r}.")
    if args.pair is not None:
        PAIR.check(args.pair, "--pair")
    if args.generator != "kde" and (args.rejection is not None or args.cleaning is not None):
        raise InputError(f"--rejection and --cleaning apply to --generator kde only, not {args.generator!r}.")
    if args.rejection is not None:
        KDE_RULES["rejection"].check(args.rejection, "--rejection")
    if args.cleaning is not None:
        KDE_RULES["cleaning"].check(args.cleaning, "--cleaning")
    out = output_file(args.out or Path(f"{args.generator}-{'all' if args.digit is None else args.digit}.png"))
    folder = args.models or project_models() / MODEL_FOLDERS[args.generator]
    images = _draw(args, folder, np.random.default_rng(seed))
    save_png(out, mosaic(images, min(args.columns, args.n)))
    print(out)


def _draw(args: argparse.Namespace, folder: Path, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, 28, 28) digits of the chosen generator."""
    if args.generator == "kde":
        from digitgen.generators.kde import KdeDigitGenerator

        model = KdeDigitGenerator.load(folder / ("global" if args.digit is None else "conditional"))
        if args.rejection is not None:
            model.set_params(rejection=args.rejection)
        if args.cleaning is not None:
            model.set_params(cleaning=args.cleaning)
        return model.sample(args.n, digit=args.digit, rng=rng)
    if args.generator == "cvae":
        from digitgen.generators.cvae import CvaeDigitGenerator

        return CvaeDigitGenerator.load(folder).sample(args.n, digit=args.digit, rng=rng)
    from digitgen.generators.ambiguous import AmbiguousDigitGenerator

    return AmbiguousDigitGenerator.load(folder).sample(args.n, digit=args.digit, rng=rng, pair=args.pair)
