"""``digitgen read IMAGE.png [...]``: the digits the trained reader sees in each image, with the probability."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitgen.cli.common import project_models


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    read = commands.add_parser(
        "read",
        help="read the digits in images with the trained reader",
        description="Print 'IMAGE: DIGITS (p = P)' for each image, read by the CTC reader of stage train_reader. "
                    "Each image is made greyscale and resized to the reader's height (aspect kept). "
                    "White ink on black is what the reader was trained on; with --invert auto (default) an image "
                    "whose median grey is above 127 (dark ink on a light ground) is inverted first. "
                    "P is the probability of the best CTC path.",
    )
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    read.add_argument("--model", type=Path, help="reader model (default: the project's data/models/reader.keras)")
    read.add_argument("--invert", choices=("auto", "always", "never"), default="auto",
                      help="invert dark-ink-on-light images: auto (median grey > 127), always, never")
    read.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Check every image, load the model, print one line per image."""
    model_path = args.model or project_models() / "reader.keras"
    if not model_path.is_file():
        raise FileNotFoundError(f"--model {str(model_path)!r}: no such file; run `dvc repro train_reader` (or `dvc pull`).")
    from digitgen.keras_io import load_keras
    from digitgen.reader import load_strip, model_height, read_strips

    try:
        model = load_keras(model_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model {str(model_path)!r} is not a reader model ({error}).") from None
    height = model_height(model)
    strips = [load_strip(path, height, args.invert) for path in args.images]  # every image checked before any is read
    for path, (digits, probability) in zip(args.images, read_strips(model, strips)):
        print(f"{path}: {digits or '(none)'} (p = {probability:.2f})")
