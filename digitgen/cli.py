"""The ``digitgen`` command.

Sub-commands::

    digitgen sequence DIGITS MIN MAX WIDTH [--out FILE] [--seed N] [--source NAME] ...
    digitgen dataset SPLIT --out DIR|URL [--params params.yaml] [--mnist FILE] [--banks DIR] [--workers N] [--scheduler ADDRESS]
    digitgen check-params [params.yaml]
    digitgen sample --generator kde [--digit D] [-n N] [--rejection LEVEL] [--cleaning LEVEL] [--out FILE] [--seed N]
    digitgen sample --generator cvae|ambiguous [--digit D] [--pair A B] [-n N] [--out FILE] [--seed N]

Errors in the input are reported as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from digitgen.params import SOURCE_NAMES, ParamsError

logger = logging.getLogger("digitgen")


def _width(text: str) -> int | None:
    if text.lower() in ("tight", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"WIDTH == {text!r}, must be an integer number of pixels or 'tight'.") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitgen", description="Synthetic handwritten-digit sequences from MNIST.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    seq = commands.add_parser(
        "sequence",
        help="compose one digit sequence into a PNG",
        description="Compose DIGITS into one 28-pixel-high PNG (white ink on black, like MNIST) and print its path.",
    )
    seq.add_argument("digits", help="the digits to write, e.g. 2934")
    seq.add_argument("min_spacing", type=int, help="smallest gap between digits, in pixels (negative: overlap)")
    seq.add_argument("max_spacing", type=int, help="largest gap between digits, in pixels")
    seq.add_argument("width", type=_width, help="image width in pixels, or 'tight'")
    seq.add_argument("--out", type=Path, help="output PNG (default: 2-9-3-4.png in the current folder)")
    seq.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy)")
    seq.add_argument("--source", default="real", help=f"digit source: one of {list(SOURCE_NAMES)} (default: real)")
    seq.add_argument("--split", choices=("train", "test"), default="test", help="MNIST split for --source real (default: test)")
    seq.add_argument("--data", type=Path, help="mnist.npz to draw real digits from (default: the project's, else the user cache)")
    seq.add_argument("--banks", type=Path, help="folder of generated banks (default: the project's data/banks)")
    seq.add_argument("--mode", choices=("random", "fill"), default="random", help="random gaps, or one equal gap filling WIDTH")
    seq.add_argument("--measure", choices=("cell", "ink"), default="cell", help="measure gaps between 28-px cells or ink")
    seq.add_argument("--align", choices=("random", "center"), default="random", help="where the slack goes (default: random)")

    data = commands.add_parser(
        "dataset", help="write one split of the sharded sequence dataset (what the DVC stage runs)"
    )
    data.add_argument("split", choices=("train", "test"))
    data.add_argument("--out", required=True, help="output folder for this split, or an fsspec URL (s3://bucket/train)")
    data.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    data.add_argument("--mnist", type=Path, help="mnist.npz (default: the project's, else the user cache)")
    data.add_argument("--banks", type=Path, help="folder of generated banks (default: the project's data/banks)")
    data.add_argument("--workers", type=int, help="local worker processes (default: sequences.workers; 0 = all cores)")
    data.add_argument("--scheduler", help="run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of local processes")

    check = commands.add_parser("check-params", help="validate a params file and print a summary")
    check.add_argument("params", nargs="?", type=Path, default=Path("params.yaml"))
    smp = commands.add_parser(
        "sample",
        help="draw digits from a fitted generator into a PNG mosaic",
        description="Draw N digits from a fitted generator (the conditional model with --digit, else the global one), "
        "write them as a PNG mosaic and print its path.",
    )
    smp.add_argument("--generator", choices=("kde", "cvae", "ambiguous"), default="kde", help="which generator (default: kde)")
    smp.add_argument(
        "--pair", type=int, nargs=2, metavar=("A", "B"),
        help="ambiguous digits between classes A and B (--generator ambiguous; default: --digit and its nearest class)",
    )
    smp.add_argument("--digit", type=int, help="digit 0-9 to draw (conditional model); omit for the global model")
    smp.add_argument("-n", type=int, default=16, help="number of digits (default: 16)")
    smp.add_argument("--rejection", type=_rejection, help="none, light, medium, strict or a percentile (default: the model's)")
    smp.add_argument("--cleaning", help="none, light, medium or aggressive (default: the model's)")
    smp.add_argument("--columns", type=int, default=8, help="images per mosaic row (default: 8)")
    smp.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy)")
    smp.add_argument("--models", type=Path, help="folder of the fitted models (default: the project's data/models/<generator>)")
    smp.add_argument("--out", type=Path, help="output PNG (default: <generator>-<digit or all>.png in the current folder)")
    return parser


def _rejection(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def _project_banks() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "banks"


def _sequence(args: argparse.Namespace) -> None:
    from digitgen.bank import bank_path, load_bank, load_real_bank
    from digitgen.compose import check_layout, compose_sequence, parse_digits

    digits = parse_digits(args.digits)
    check_layout(len(digits), (args.min_spacing, args.max_spacing), args.width, mode=args.mode, measure=args.measure)
    if args.source not in SOURCE_NAMES:
        raise ValueError(f"--source == {args.source!r}, must be one of {list(SOURCE_NAMES)}.")
    if args.source == "real":
        bank = load_real_bank(args.split, args.data)
    else:
        bank = load_bank(bank_path(args.banks or _project_banks(), args.source), args.source)
    image = compose_sequence(
        args.digits,
        (args.min_spacing, args.max_spacing),
        args.width,
        bank=bank,
        rng=np.random.default_rng(args.seed),
        mode=args.mode,
        measure=args.measure,
        align=args.align,
    )
    out = args.out or Path("-".join(args.digits) + ".png")
    if out.parent and not out.parent.is_dir():
        raise FileNotFoundError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist.")
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(out)
    print(out)


def _dataset(args: argparse.Namespace) -> None:
    from digitgen.data.mnist import default_mnist_npz
    from digitgen.params import load_params
    from digitgen.shards import emit_split

    params = load_params(args.params).sequences
    if args.scheduler:
        params = dataclasses.replace(params, executor="dask", scheduler=args.scheduler)
    mnist = default_mnist_npz(args.mnist)
    summary = emit_split(args.split, params, mnist, args.banks or _project_banks(), args.out, workers=args.workers)
    print(f"{summary.out_dir}: {summary.count} sequences in {summary.shards} shards")


def _check_params(args: argparse.Namespace) -> None:
    from digitgen.params import load_params

    params = load_params(args.params)
    seq = params.sequences
    print(f"{args.params}: ok")
    print(f"  download: source {params.download.source}, verify {params.download.verify}")
    for split, spec in sorted(seq.splits.items()):
        sources = ", ".join(f"{name} {weight:g}" for name, weight in spec.sources.items())
        print(f"  sequences.{split}: {spec.count} sequences of {seq.length.min}-{seq.length.max} digits, 28x{seq.width}, sources {sources}")
    aug = params.augment
    size = f"{aug.copies} per training digit" if aug.copies is not None else f"{aug.count} digits"
    print(f"  augment: {size}, transforms {', '.join(aug.transforms)}")
    kde = params.fit_kde
    print(f"  fit_kde: {kde.n_components} components, rejection {kde.rejection}, cleaning {kde.cleaning}, {kde.bank_per_digit} per digit in the bank")


def _sample(args: argparse.Namespace) -> None:
    from digitgen.generators.kde import KdeDigitGenerator
    from digitgen.report import mosaic, save_png

    if args.n < 1:
        raise ValueError(f"-n == {args.n}, must be >= 1.")
    if args.columns < 1:
        raise ValueError(f"--columns == {args.columns}, must be >= 1.")
    if args.digit is not None and not 0 <= args.digit <= 9:
        raise ValueError(f"--digit == {args.digit}, must be a digit 0-9 (or omitted for the global model).")
    out = args.out or Path(f"{args.generator}-{'all' if args.digit is None else args.digit}.png")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist.")
    if args.pair is not None and args.generator != "ambiguous":
        raise ValueError(f"--pair applies to --generator ambiguous only, not {args.generator!r}.")
    if args.generator != "kde":
        save_png(out, mosaic(_neural_samples(args), min(args.columns, args.n)))
        print(out)
        return
    models = args.models or Path(__file__).resolve().parents[1] / "data" / "models" / args.generator
    model = KdeDigitGenerator.load(models / ("global" if args.digit is None else "conditional"))
    if args.rejection is not None:
        model.set_params(rejection=args.rejection)
    if args.cleaning is not None:
        model.set_params(cleaning=args.cleaning)
    images = model.sample(args.n, digit=args.digit, rng=np.random.default_rng(args.seed))
    save_png(out, mosaic(images, min(args.columns, args.n)))
    print(out)


def _neural_samples(args: argparse.Namespace) -> np.ndarray:
    """uint8 (n, 28, 28) digits of the cvae or ambiguous generator for ``digitgen sample``."""
    if args.rejection is not None or args.cleaning is not None:
        raise ValueError(f"--rejection and --cleaning apply to --generator kde only, not {args.generator!r}.")
    folder = args.models or Path(__file__).resolve().parents[1] / "data" / "models" / ("cvae" if args.generator == "cvae" else "autoencoder")
    rng = np.random.default_rng(args.seed)
    if args.generator == "cvae":
        from digitgen.generators.cvae import CvaeDigitGenerator

        return CvaeDigitGenerator.load(folder).sample(args.n, digit=args.digit, rng=rng)
    from digitgen.generators.ambiguous import AmbiguousDigitGenerator

    return AmbiguousDigitGenerator.load(folder).sample(args.n, digit=args.digit, rng=rng, pair=args.pair)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"sequence": _sequence, "dataset": _dataset, "check-params": _check_params, "sample": _sample}
    try:
        handlers[args.command](args)
    except (ValueError, FileNotFoundError, ConnectionError, ParamsError) as error:
        print(f"digitgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
