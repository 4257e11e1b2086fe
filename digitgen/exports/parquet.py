"""Hugging Face Parquet export: ``<index>-of-<shards>`` Parquet files with the ``datasets`` feature metadata.

One file per dataset shard, ``data/<split>-00000-of-00003.parquet`` (the
Hub's naming), one row per image:

- ``image``: ``{bytes, path}``, the PNG and its file name (feature ``Image``: ``datasets`` decodes it to a PIL image);
- ``label``: string, a sequence's digits or a canvas's numbers joined by a space;
- ``digits``: list of int8, the digit labels in slot order;
- ``objects``: ``{bbox, category}``: ``bbox`` list of ``[x, y, w, h]`` float32 boxes in pixels (COCO's
  order), ``category`` list of class numbers (``ClassLabel`` 0-9, and 10 ``number`` on canvases);
  the digits first, then (canvases) the numbers;
- ``sources`` (list of string) and ``source_index`` (list of int32): each digit's provenance;
- ``index`` (int64), ``shard`` (string), ``row`` (int32): where the image is in the split's NPZ shards.

The schema carries the ``huggingface`` metadata key that ``datasets`` reads
(``{"info": {"features": ...}}``), so
``datasets.load_dataset("parquet", data_files=...)`` gives typed columns and
decoded images; ``pandas.read_parquet`` reads the same file through pyarrow.
Files are written with fixed options (snappy, statistics off, one row group):
the same shards give the same bytes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from digitgen.exports.records import (
    ShardObjects,
    class_names,
    image_name,
    objects_per_image,
    png_bytes,
    put,
)
from digitgen.storage import Destination

if TYPE_CHECKING:
    import pyarrow as pa

#: Folder of the export inside a split folder.
FOLDER = "parquet"


def features(kind: str) -> dict:
    """The ``datasets`` features of the columns (the JSON ``datasets`` stores under ``info.features``)."""
    value = lambda dtype: {"dtype": dtype, "_type": "Value"}  # noqa: E731
    listed = lambda feature, **extra: {"feature": feature, **extra, "_type": "List"}  # noqa: E731
    return {
        "image": {"_type": "Image"},
        "label": value("string"),
        "digits": listed(value("int8")),
        "objects": {
            "bbox": listed(listed(value("float32"), length=4)),
            "category": listed({"names": list(class_names(kind)), "_type": "ClassLabel"}),
        },
        "sources": listed(value("string")),
        "source_index": listed(value("int32")),
        "index": value("int64"),
        "shard": value("string"),
        "row": value("int32"),
    }


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of a file, with the ``huggingface`` metadata."""
    import pyarrow as pa  # here, not at import: the stages that write no Parquet do not pay pyarrow's start-up

    fields = pa.schema([
        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("label", pa.string()),
        ("digits", pa.list_(pa.int8())),
        ("objects", pa.struct([("bbox", pa.list_(pa.list_(pa.float32(), 4))), ("category", pa.list_(pa.int64()))])),
        ("sources", pa.list_(pa.string())),
        ("source_index", pa.list_(pa.int32())),
        ("index", pa.int64()),
        ("shard", pa.string()),
        ("row", pa.int32()),
    ])
    return fields.with_metadata({"huggingface": json.dumps({"info": {"features": features(kind)}}, sort_keys=True)})


def file_name(split: str, shard: int, shards: int) -> str:
    """``data/train-00000-of-00004.parquet``."""
    return f"data/{split}-{shard:05d}-of-{shards:05d}.parquet"


def table(kind: str, objects: ShardObjects, shard_name: str) -> pa.Table:
    """The Arrow table of one shard (see the module docstring)."""
    import pyarrow as pa

    starts = objects_per_image(objects)
    n = len(objects.images)
    boxes = objects.boxes.astype(np.float32)
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1)
    columns = {
        "image": [{"bytes": png_bytes(objects.images[row]), "path": image_name(int(objects.indices[row]))} for row in range(n)],
        "label": objects.labels.tolist(),
        "digits": [d.astype(np.int8).tolist() for d in objects.digits],
        "objects": [{"bbox": xywh[starts[r] : starts[r + 1]].tolist(), "category": objects.category[starts[r] : starts[r + 1]].tolist()} for r in range(n)],
        "sources": [s.tolist() for s in objects.digit_sources],
        "source_index": [s.astype(np.int32).tolist() for s in objects.digit_source_index],
        "index": objects.indices.tolist(),
        "shard": [shard_name] * n,
        "row": list(range(n)),
    }
    return pa.Table.from_pydict(columns, schema=schema(kind))


def parquet_bytes(data: pa.Table) -> bytes:
    """The Parquet bytes of a table, written with fixed options."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(data, buffer, compression="snappy", write_statistics=False, row_group_size=max(len(data), 1), store_schema=True)
    return buffer.getvalue()


def write_shard(kind: str, split: str, shards: int, shard: int, objects: ShardObjects, shard_name: str, destination: Destination, prefix: str) -> None:
    """Write the shard's Parquet file under ``prefix``."""
    put(destination, prefix + file_name(split, shard, shards), parquet_bytes(table(kind, objects, shard_name)))


class ParquetAssembler:
    """Nothing to assemble: each shard is a file of its own."""

    def __init__(self, kind: str, split: str) -> None:
        self.kind, self.split = kind, split

    def add(self, record: None) -> None:
        """Nothing to collect."""

    def finish(self, destination: Destination, scratch: str | Path, prefix: str = f"{FOLDER}/") -> None:
        """Nothing to write."""
