"""``digitgen export``: one split folder (sequences or canvases) into a new COCO, YOLO or Parquet export folder.

Everything is checked before any work (the format, the split folder, the
output folder: a new or empty folder, or an export folder digitgen wrote,
marked by ``export.json``); the export is built in a temporary folder beside
``--out`` and renamed into place once complete. Shards are exported on a
local pool of worker processes, one shard each at a time, and their records
merged in shard order: memory stays flat and the bytes do not depend on the
number of workers.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from digitgen.errors import InputError
from digitgen.executors import LocalExecutor
from digitgen.exports.assemble import (
    EXPORT_FORMATS,
    MARKER,
    assembler,
    write_shard_exports,
)
from digitgen.exports.reader import SplitFolder, open_split, read_shard
from digitgen.io import atomic_directory
from digitgen.rules import OneOf
from digitgen.storage import Destination

#: Rule of ``--format``.
FORMAT = OneOf(EXPORT_FORMATS)


def check_export_folder(out: str | os.PathLike, option: str = "--out") -> Path:
    """``out`` if it may be written: new, an empty folder, or an export folder digitgen wrote (``export.json``)."""
    path = Path(out)
    if not path.exists():
        return path
    if not path.is_dir():
        raise FileExistsError(f"{option} {str(path)!r} exists and is a file; choose another path (digitgen never replaces it).")
    if (path / MARKER).is_file() or not any(path.iterdir()):
        return path
    raise FileExistsError(
        f"{option} {str(path)!r} exists and is not an export folder written by digitgen (no {MARKER}); choose a new or empty folder."
    )


def _no_state() -> None:
    return None


def _export_shard(_state: None, item: tuple) -> dict:
    """Worker: read and check one shard, write its export files into the temporary folder, return its record."""
    split, fmt, number, tmp = item
    arrays = read_shard(split, number)
    return write_shard_exports((fmt,), split.kind, split.split, arrays, number, len(split.shards), split.first_index(number), Destination(tmp), {fmt: ""})[fmt]


def export_split(folder: str | os.PathLike, fmt: str, out: str | os.PathLike, *, workers: int = 0) -> tuple[SplitFolder, int]:
    """Export the split folder ``folder`` as ``fmt`` into ``out``; returns the split and the number of images written.

    Raises
    ------
    digitgen.errors.InputError
        An unknown format, a folder that is not a split (before anything is written).
    FileExistsError
        ``out`` exists and is not an empty folder or an export digitgen wrote.
    """
    fmt = FORMAT.check(fmt, "--format")
    split = open_split(folder)
    out = check_export_folder(out)
    export = assembler(fmt, split.kind, split.split)
    executor = LocalExecutor(workers)
    with atomic_directory(out) as tmp, tempfile.TemporaryDirectory(prefix="digitgen-export-") as scratch:
        items = [(split, fmt, number, str(tmp)) for number in range(len(split.shards))]
        for record in executor.map(_no_state, (), _export_shard, items):
            export.add(record)
        if export.count != split.info.get("count", export.count):
            raise InputError(f"{split.path}: the shards hold {export.count} rows, info.json says {split.info.get('count')}; nothing written.")
        export.finish(Destination(str(tmp)), scratch, prefix="")
    return split, export.count
