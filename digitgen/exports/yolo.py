"""YOLO export, the Ultralytics layout: ``images/<index>.png``, ``labels/<index>.txt``, ``data.yaml``.

Each label file has one line per object, ``class cx cy w h``: the class
(0-9 the digits, 10 ``number`` on canvases) and the box's centre and size as
fractions of the image's width and height, to 6 decimals (under 0.001 px
of rounding on a 128-px canvas). An image without objects gets an empty file.
``data.yaml`` names the classes and points ``train`` and ``val`` at
``images``; it has no ``path`` key, so Ultralytics resolves both against the
folder holding it: ``YOLO("yolov8n.pt").train(data="<export>/data.yaml")``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from digitgen.exports.records import (
    ShardObjects,
    class_names,
    image_name,
    objects_per_image,
    png_bytes,
    put,
)
from digitgen.storage import Destination

#: Folder of the export inside a split folder.
FOLDER = "yolo"


def label_lines(objects: ShardObjects, row: int, starts) -> str:
    """The label file of image ``row``: ``class cx cy w h`` per object, normalised, 6 decimals."""
    height, width = objects.images.shape[1:]
    lines = []
    for k in range(starts[row], starts[row + 1]):
        x0, y0, x1, y1 = (int(v) for v in objects.boxes[k])
        lines.append(f"{int(objects.category[k])} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}\n")
    return "".join(lines)


def write_shard(objects: ShardObjects, shard_name: str, destination: Destination, prefix: str) -> None:
    """Write the shard's ``images/<index>.png`` and ``labels/<index>.txt`` under ``prefix``."""
    starts = objects_per_image(objects)
    for row, index in enumerate(objects.indices.tolist()):
        name = image_name(index)
        put(destination, f"{prefix}images/{name}", png_bytes(objects.images[row]))
        put(destination, f"{prefix}labels/{name[:-4]}.txt", label_lines(objects, row, starts).encode("ascii"))


def data_yaml(kind: str, split: str) -> str:
    """The ``data.yaml`` of an export (classes of ``kind``; train and val both ``images``)."""
    names = class_names(kind)
    lines = [
        f"# Ultralytics YOLO dataset written by digitgen: {kind}, split {split}.",
        "# No `path` key: Ultralytics resolves train/val against the folder of this file.",
        "train: images",
        "val: images",
        f"nc: {len(names)}",
        "names:",
        *(f"  {number}: {json.dumps(name)}" for number, name in enumerate(names)),
    ]
    return "\n".join(lines) + "\n"


class YoloAssembler:
    """Writes ``data.yaml`` once every shard is written (the shards need nothing collected)."""

    def __init__(self, kind: str, split: str) -> None:
        self.kind, self.split = kind, split

    def add(self, record: None) -> None:
        """Nothing to collect: the label files are written by the workers."""

    def finish(self, destination: Destination, scratch: str | Path, prefix: str = f"{FOLDER}/") -> None:
        """Write ``<prefix>data.yaml``."""
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=scratch, suffix=".yaml", delete=False) as handle:
            handle.write(data_yaml(self.kind, self.split))
        destination.put(f"{prefix}data.yaml", handle.name)
