"""``digitgen sample --generator NAME``: digits of a generator as a PNG mosaic, or ambiguous series as a picture or a GIF.

The options are checked and the digits drawn by :mod:`digitgen.sampling`, the
code the studio's panels call too, so a panel's command line writes the bytes
the panel shows. The augmentation options are the ``augment`` section's keys
(``--rotation``, ``--elastic.alpha``, ...; :func:`digitgen.sampling.augment_options`).
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from digitgen.cli.common import output_file, project_models
from digitgen.constants import SPLIT_NAMES
from digitgen.options import format_value, parse_text
from digitgen.params.fit_kde import KDE_RULES

#: Most digits one ``digitgen sample`` draws.
MAX_SAMPLES = 100_000
_DEST = "augment:"
_SHORT = {"n": "-n"}


def option_name(key: str) -> str:
    """How the command line spells option ``key`` of :func:`digitgen.sampling.check_sample`."""
    return _SHORT.get(key, "--" + key.removeprefix("augment."))


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    from digitgen.sampling import GENERATORS, augment_options

    smp = commands.add_parser(
        "sample",
        help="draw digits from a generator into a PNG mosaic (or an ambiguous series)",
        description="Draw N digits from a generator (for kde: the conditional model with --digit, else the global one), "
        "write them as a PNG mosaic and print its path. With --series or --gif (generator ambiguous): N interpolation "
        "series, each with the digit the judges keep, as a PNG and/or an animated GIF.",
    )
    smp.add_argument("--generator", choices=GENERATORS, default="kde", help="which generator (default: kde)")
    smp.add_argument(
        "--pair", type=int, nargs=2, metavar=("A", "B"),
        help="ambiguous digits between classes A and B (--generator ambiguous; default: --digit and its nearest class)",
    )
    smp.add_argument("--digit", type=int, help="digit 0-9 to draw (kde: the conditional model); omit for all digits (kde: the global model)")
    smp.add_argument("-n", type=int, default=16, help=f"number of digits, or of series (default: 16, at most {MAX_SAMPLES})")
    smp.add_argument("--rejection", help="kde: none, light, medium, strict or a percentile (default: the model's)")
    smp.add_argument("--cleaning", help="kde: none, light, medium or aggressive (default: the model's)")
    smp.add_argument("--temperature", type=float, help="cvae: standard deviation of the prior draws (default: the model's)")
    smp.add_argument("--split", choices=SPLIT_NAMES, help="real, augmented: the MNIST split drawn from (default: train)")
    smp.add_argument("--data", type=Path, help="real, augmented: mnist.npz (default: the project's, else the user cache)")
    smp.add_argument("--series", action="store_true", help="ambiguous: write the interpolation series (steps, chosen step framed, digit kept)")
    smp.add_argument("--gif", type=Path, metavar="FILE", help="ambiguous: also write the series as an animated GIF (alone unless --out is given)")
    smp.add_argument("--columns", type=int, default=8, help="images per mosaic row (default: 8)")
    smp.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy)")
    smp.add_argument("--models", type=Path, help="folder of the fitted model (default: the project's data/models/<generator>)")
    smp.add_argument("--out", type=Path, help="output PNG (default: <generator>-<digit or all>.png in the current folder)")
    augment = smp.add_argument_group("augmented: the transforms and their strengths (params.yaml keys under augment)")
    for key, option in augment_options().items():
        augment.add_argument("--" + key, dest=_DEST + key, metavar="VALUE",
                             help=f"{option.rule.allowed()} (default: {format_value(option.default)})")
    smp.set_defaults(run=run)


def sample_values(args: argparse.Namespace) -> dict:
    """The options of :func:`digitgen.sampling.check_sample` given on the command line."""
    from digitgen.sampling import augment_options

    values = {"generator": args.generator, "n": args.n, "digit": args.digit, "pair": args.pair, "cleaning": args.cleaning,
              "temperature": args.temperature, "split": args.split, "columns": args.columns,
              "seed": secrets.randbits(63) if args.seed is None else args.seed}
    if args.rejection is not None:
        values["rejection"] = parse_text(KDE_RULES["rejection"], args.rejection, "--rejection")
    options = augment_options()
    for dest, text in vars(args).items():
        if dest.startswith(_DEST) and text is not None:
            key = dest.removeprefix(_DEST)
            values["augment." + key] = options[key].parse(text, "--" + key)
    return values


def run(args: argparse.Namespace) -> None:
    """Check the options, draw, write the PNG (and/or the GIF) and print the path(s) written."""
    from digitgen.errors import InputError
    from digitgen.io import atomic_path
    from digitgen.pictures import save_png
    from digitgen.sampling import (
        MODEL_FOLDERS,
        Models,
        check_sample,
        draw_digits,
        draw_series,
        grid_picture,
        series_animation,
        series_picture,
        single_thread_blas,
    )

    request = check_sample(sample_values(args), max_n=MAX_SAMPLES, name=option_name)
    single_thread_blas()
    series = args.series or args.gif is not None
    if series and request.generator != "ambiguous":
        raise InputError(f"--series and --gif apply to --generator ambiguous only, not {request.generator!r}.")
    if args.data is not None and request.generator not in ("real", "augmented"):
        raise InputError(f"--data applies to --generator real or augmented only, not {request.generator!r}.")
    gif = output_file(args.gif, "--gif") if args.gif is not None else None
    out = None
    if args.out is not None or gif is None:
        out = output_file(args.out or Path(f"{request.generator}-{'all' if request.digit is None else request.digit}.png"))
    folders = {request.generator: args.models} if args.models is not None and request.generator in MODEL_FOLDERS else None
    models = Models(project_models(), args.data, folders)
    if series:
        draw = draw_series(request, models)
        if gif is not None:
            with atomic_path(gif) as tmp:
                tmp.write_bytes(series_animation(draw))
            print(gif)
        picture = series_picture(draw) if out is not None else None
    else:
        picture = grid_picture(draw_digits(request, models), request.columns)
    if out is not None:
        save_png(out, picture)
        print(out)
