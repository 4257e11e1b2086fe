"""``digitgen check-params [params.yaml]``: validate every section of a params file and summarise it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    check = commands.add_parser("check-params", help="validate a params file and print a summary")
    check.add_argument("params", nargs="?", type=Path, default=Path("params.yaml"))
    check.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Validate and print a summary of the main choices."""
    from digitgen.params.all import load_params

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
