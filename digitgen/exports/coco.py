"""COCO export: ``images/<index>.png`` and ``annotations.json`` (``pycocotools.coco.COCO("annotations.json")`` loads it).

``annotations.json`` holds ``info``, ``images`` (``id`` = the image's index in
the split, ``file_name``, ``width``, ``height``), ``annotations`` (``id`` from 1,
``image_id``, ``category_id`` = class + 1, ``bbox`` ``[x, y, w, h]`` in pixels,
``area`` = w x h, ``iscrowd`` 0, and ``digitgen``: the digit's ``source`` and
``source_index``, its ``number`` on a canvas, its ``label``) and
``categories`` (``"0"``..``"9"``, plus ``"number"`` on canvases). Every image
and annotation also carries the split's ``shard`` and ``row``.

Workers write the PNGs and return each shard's entries (:func:`write_shard`);
:class:`CocoAssembler` appends them to temporary files in shard order and
streams the JSON together at the end, so memory stays flat. Keys are sorted
and separators fixed: the same shards give the same bytes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import digitgen
from digitgen.exports.records import (
    ShardObjects,
    class_names,
    image_name,
    objects_per_image,
    png_bytes,
    put,
)
from digitgen.storage import Destination

#: Folder of the export inside a split folder (or the export folder itself, from ``digitgen export``).
FOLDER = "coco"


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def write_shard(objects: ShardObjects, shard_name: str, destination: Destination, prefix: str) -> tuple[list[str], list[str]]:
    """Write the shard's PNGs under ``<prefix>images/``; return its image and annotation entries as JSON text (annotation ids unset)."""
    height, width = objects.images.shape[1:]
    starts = objects_per_image(objects)
    images, annotations = [], []
    for row, index in enumerate(objects.indices.tolist()):
        name = image_name(index)
        put(destination, f"{prefix}images/{name}", png_bytes(objects.images[row]))
        images.append(_dumps({
            "id": index, "file_name": name, "width": int(width), "height": int(height),
            "digitgen": {"shard": shard_name, "row": row, "label": str(objects.labels[row])},
        }))
        for k in range(starts[row], starts[row + 1]):
            x0, y0, x1, y1 = (int(v) for v in objects.boxes[k])
            extra = {"label": str(objects.label[k]), "shard": shard_name, "row": row}
            if objects.source[k]:
                extra.update(source=str(objects.source[k]), source_index=int(objects.source_index[k]))
            if objects.number[k] >= 0:
                extra["number"] = int(objects.number[k])
            annotations.append(_dumps({
                "image_id": index, "category_id": int(objects.category[k]) + 1, "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": (x1 - x0) * (y1 - y0), "iscrowd": 0, "digitgen": extra,
            })[1:])  # without the opening brace: the id is put in front when assembled
    return images, annotations


class CocoAssembler:
    """Appends the shards' entries, in shard order, to two temporary files and writes ``annotations.json`` from them (:meth:`finish`)."""

    def __init__(self, kind: str, split: str) -> None:
        self.kind, self.split = kind, split
        self.images = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.annotations = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.next_id = 1
        self.count = 0

    def add(self, record: tuple[list[str], list[str]]) -> None:
        """Append one shard's entries (what :func:`write_shard` returned); annotation ids are numbered here, from 1."""
        image_entries, annotation_entries = record
        for entry in image_entries:
            self.images.write(("," if self.count else "") + entry)
            self.count += 1
        for entry in annotation_entries:
            self.annotations.write(("," if self.next_id > 1 else "") + '{"id":' + str(self.next_id) + "," + entry)
            self.next_id += 1

    def finish(self, destination: Destination, scratch: str | Path, prefix: str = f"{FOLDER}/") -> None:
        """Write ``<prefix>annotations.json`` (through a file in ``scratch``) from the entries collected."""
        categories = [
            {"id": number + 1, "name": name, "supercategory": "number" if name == "number" else "digit"}
            for number, name in enumerate(class_names(self.kind))
        ]
        info = {"description": f"digitgen {self.kind}, split {self.split}", "version": digitgen.__version__}
        path = Path(scratch) / "coco-annotations.json"
        with open(path, "w", encoding="utf-8") as out:
            out.write('{"annotations":[')
            _copy(self.annotations, out)
            out.write('],"categories":' + _dumps(categories) + ',"images":[')
            _copy(self.images, out)
            out.write('],"info":' + _dumps(info) + "}\n")
        self.images.close()
        self.annotations.close()
        destination.put(f"{prefix}annotations.json", path)


def _copy(handle, out) -> None:
    handle.seek(0)
    while chunk := handle.read(1 << 20):
        out.write(chunk)
