"""``digitgen dataset SPLIT --out DIR|URL``: one split of the sharded sequence dataset (what the DVC stage runs)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from digitgen.cli import layout_options
from digitgen.cli.common import project_banks
from digitgen.constants import SPLIT_NAMES
from digitgen.rules import Int


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    data = commands.add_parser("dataset", help="write one split of the sharded sequence dataset (what the DVC stage runs)")
    data.add_argument("split", choices=SPLIT_NAMES)
    data.add_argument("--out", required=True, help="output folder for this split, or an fsspec URL (s3://bucket/train)")
    data.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    data.add_argument("--mnist", type=Path, help="mnist.npz (default: the project's, else the user cache)")
    data.add_argument("--banks", type=Path, help="folder of generated banks (default: the project's data/banks)")
    data.add_argument("--workers", type=int, help="local worker processes (default: sequences.workers; 0 = all cores)")
    data.add_argument("--scheduler", help="run on this Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of local processes")
    data.add_argument("--overwrite", action="store_true", help="replace --out even if it is not a split folder digitgen wrote")
    layout_options.add(data)
    data.set_defaults(run=run)


def check_output_folder(out: str, overwrite: bool) -> None:
    """Refuse an existing ``--out`` that is not a split folder digitgen wrote (``info.json`` and ``manifest.csv``) or empty."""
    from digitgen.storage import is_url

    path = Path(out)
    if is_url(out) or not path.exists():
        return
    if not path.is_dir():
        raise FileExistsError(f"--out {out!r} exists and is a file; choose another path (digitgen never replaces it).")
    ours = (path / "info.json").is_file() and (path / "manifest.csv").is_file()
    if not ours and any(path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"--out {out!r} exists and is not a split folder written by digitgen (no info.json and manifest.csv); "
            "choose an empty or new folder, or pass --overwrite to replace it."
        )


def with_overrides(params, options: dict):
    """``params`` (SequencesParams) with the layout options given on the command line (flat keys), checked again as a whole."""
    if not options:
        return params
    from digitgen.options import nest
    from digitgen.params.core import build_section
    from digitgen.params.sequences import SequencesParams

    def merged(base: dict, part: dict) -> dict:
        return {**base, **{key: merged(base[key], value) if isinstance(value, dict) else value for key, value in part.items()}}

    raw = merged(dataclasses.asdict(params), nest(options))
    return build_section(SequencesParams, raw, "sequences (with the command-line options)")


def run(args: argparse.Namespace) -> None:
    """Write the split and print where it went."""
    from digitgen.data.cache import default_mnist_npz
    from digitgen.params.core import load_section
    from digitgen.params.sequences import SCHEDULER, SequencesParams
    from digitgen.shards import emit_split

    check_output_folder(args.out, args.overwrite)
    params = with_overrides(load_section(args.params, "sequences", SequencesParams), layout_options.given(args))
    workers = None if args.workers is None else Int(0, 256, allowed="must be an integer in 0..256 (0 = all cores)").check(args.workers, "--workers")
    if args.scheduler:
        params = dataclasses.replace(params, executor="dask", scheduler=SCHEDULER.check(args.scheduler, "--scheduler"))
    mnist = default_mnist_npz(args.mnist)
    summary = emit_split(args.split, params, mnist, args.banks or project_banks(), args.out, workers=workers)
    print(f"{summary.out_dir}: {summary.count} sequences in {summary.shards} shards")
