"""The ``digitgen`` command line: the parser of every sub-command, and :func:`main`.

Sub-commands (one module each in :mod:`digitgen.cli`, with ``register(commands)`` and ``run(args)``)::

    digitgen sequence DIGITS MIN MAX WIDTH [--out FILE] [--seed N] [--source NAME] ...
    digitgen dataset SPLIT --out DIR|URL [--params params.yaml] [--mnist FILE] [--banks DIR] [--workers N] [--scheduler ADDRESS]
    digitgen export DIR --format coco|yolo|parquet --out OUT [--workers N]
    digitgen check-params [params.yaml]
    digitgen sample --generator real|augmented|kde|cvae|ambiguous [--digit D] [--pair A B] [-n N] [--out FILE] [--gif FILE] ...
    digitgen serve [--host 127.0.0.1] [--port 8000] [--models DIR] [--banks DIR] [--data mnist.npz]
    digitgen read IMAGE [IMAGE ...] [--model data/models/reader.keras] [--invert auto|always|never]

Errors in the input are one line on stderr with exit status 2 (see :mod:`digitgen.entry`).
"""

from __future__ import annotations

import argparse
import logging

from digitgen.cli import check_params, dataset, export, read, sample, sequence, serve
from digitgen.entry import DEBUG_ENV, configure_logging, guarded, quiet_tensorflow

#: Sub-command modules, in the order ``digitgen --help`` lists them.
COMMANDS = (sequence, dataset, export, check_params, sample, read, serve)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="digitgen", description="Synthetic handwritten-digit datasets from MNIST.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level (and TensorFlow's own lines)")
    parser.add_argument("--debug", action="store_true", help=f"print the traceback of an error (or set {DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    with quiet_tensorflow(args.verbose):
        return guarded(f"digitgen {args.command}", lambda: args.run(args), debug=args.debug)
