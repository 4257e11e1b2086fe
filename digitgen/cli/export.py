"""``digitgen export DIR --format coco|yolo|parquet --out OUT``: a split folder (sequences or canvases) as a COCO, YOLO or Parquet export."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitgen.rules import Int


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sub-command to ``digitgen``'s parser."""
    export = commands.add_parser("export", help="export a split folder (sequences or canvases) as COCO JSON, a YOLO folder or Hugging Face Parquet")
    export.add_argument("folder", metavar="DIR", type=Path, help="a split folder, e.g. outputs/canvases/train")
    export.add_argument("--format", required=True, help="coco, yolo or parquet")
    export.add_argument("--out", required=True, type=Path, help="a new (or empty) folder, or an export folder digitgen wrote, to replace")
    export.add_argument("--workers", type=int, default=0, help="local worker processes (default 0 = all cores)")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Export the split and print where it went."""
    from digitgen.exports.run import export_split

    workers = Int(0, 256, allowed="must be an integer in 0..256 (0 = all cores)").check(args.workers, "--workers")
    split, count = export_split(args.folder, args.format, args.out, workers=workers)
    print(f"{args.out}: {count} {split.kind} images of {split.path} as {args.format}")
