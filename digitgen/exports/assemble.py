"""The export formats by name: what one shard writes (run on a worker) and how an export is finished (in the writer).

An export folder (``<split>/coco``, ``<split>/yolo``, ``<split>/parquet``
inside a split folder, or the folder ``digitgen export`` writes) also holds
``export.json``: the format, the kind of dataset, the split, the number of
images and the digitgen version (no path, no time: the same shards give the
same bytes). It marks the folder as one digitgen wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import digitgen
from digitgen.exports import coco, parquet, yolo
from digitgen.exports.records import shard_objects
from digitgen.storage import Destination

#: The export formats, in the order they are written.
EXPORT_FORMATS = ("coco", "yolo", "parquet")
#: The marker file of an export folder.
MARKER = "export.json"
_ASSEMBLERS = {"coco": coco.CocoAssembler, "yolo": yolo.YoloAssembler, "parquet": parquet.ParquetAssembler}


class Export:
    """One export being written: collects the shards' records, then writes its index files and :data:`MARKER`."""

    def __init__(self, fmt: str, kind: str, split: str) -> None:
        self.fmt, self.kind, self.split = fmt, kind, split
        self.inner = _ASSEMBLERS[fmt](kind, split)
        self.count = 0

    def add(self, record: tuple[int, Any]) -> None:
        """Add one shard's ``(images, record)`` (what :func:`write_shard_exports` returned for this format)."""
        images, inner = record
        self.count += images
        self.inner.add(inner)

    def finish(self, destination: Destination, scratch: str | Path, prefix: str | None = None) -> None:
        """Write the export's index files and its marker under ``prefix`` (default ``<format>/``)."""
        prefix = f"{self.fmt}/" if prefix is None else prefix
        self.inner.finish(destination, scratch, prefix)
        marker = {"format": self.fmt, "kind": self.kind, "split": self.split, "images": self.count, "digitgen": digitgen.__version__}
        path = Path(scratch) / f"{self.fmt}-{MARKER}"
        path.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        destination.put(prefix + MARKER, path)


def assembler(fmt: str, kind: str, split: str) -> Export:
    """The :class:`Export` of format ``fmt`` for a split of ``kind``."""
    return Export(fmt, kind, split)


def write_shard_exports(
    formats: Sequence[str],
    kind: str,
    split: str,
    arrays: Mapping[str, np.ndarray],
    shard: int,
    shards: int,
    first_index: int,
    destination: Destination,
    prefixes: Mapping[str, str] | None = None,
) -> dict[str, tuple[int, Any]]:
    """Write one shard's files of every export format in ``formats`` (others are ignored); return each format's record.

    ``prefixes``: format -> folder prefix inside ``destination`` (default ``<format>/``).
    """
    wanted = [fmt for fmt in EXPORT_FORMATS if fmt in formats]
    if not wanted:
        return {}
    objects = shard_objects(kind, arrays, first_index)
    name = f"shard-{shard:05d}.npz"
    records = {}
    for fmt in wanted:
        prefix = f"{fmt}/" if prefixes is None else prefixes[fmt]
        if fmt == "coco":
            inner = coco.write_shard(objects, name, destination, prefix)
        elif fmt == "yolo":
            inner = yolo.write_shard(objects, name, destination, prefix)
        else:
            inner = parquet.write_shard(kind, split, shards, shard, objects, name, destination, prefix)
        records[fmt] = (len(objects.images), inner)
    return records
