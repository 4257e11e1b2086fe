"""The objects of one shard as every export sees them: per image its label and digits, per object its box, class and provenance.

Both dataset kinds give the same record (:func:`shard_objects`): a sequence
shard's objects are its digits; a canvas shard's are its digits, then its
numbers (class :data:`NUMBER_CLASS`). Classes are 0-9 for the digits and 10
for ``number``, as YOLO and Hugging Face count them; COCO's ``category_id``
is the class + 1 (COCO keeps 0 for the background).

PNGs are encoded by Pillow at the fixed :data:`PNG_LEVEL` (no timestamp or
other varying chunk), so the same image gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digitgen.storage import Destination, is_url

#: zlib level of every exported PNG.
PNG_LEVEL = 1
#: Class names, by class number: the ten digits, then ``number`` (canvases only).
CLASS_NAMES = tuple(str(d) for d in range(10)) + ("number",)
#: The class of a number box.
NUMBER_CLASS = 10
#: Kinds of dataset an export reads.
KINDS = ("sequences", "canvases")


def class_names(kind: str) -> tuple[str, ...]:
    """The classes of a kind: digits only for sequences, digits and ``number`` for canvases."""
    return CLASS_NAMES if kind == "canvases" else CLASS_NAMES[:NUMBER_CLASS]


def image_name(index: int) -> str:
    """The file name of image ``index`` of a split (``000123.png``), the same in every export."""
    return f"{index:06d}.png"


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W) image as PNG bytes (level :data:`PNG_LEVEL`)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def put(destination: Destination, name: str, data: bytes) -> None:
    """Write ``data`` to ``<destination>/<name>``: directly into a local folder (exports are built in a temporary folder), else as one upload."""
    if is_url(destination.location):
        destination.write(name, data)
        return
    path = Path(destination.location) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@dataclass(frozen=True)
class ShardObjects:
    """The images and objects of one shard.

    Attributes
    ----------
    images : uint8 (n, H, W).
    indices : int64 (n,) each image's index in the split.
    labels : str (n,) the label of each image: a sequence's digits (``2934``), a canvas's numbers joined by a space (``42 7``).
    digits : list of n int64 arrays: each image's digit labels in slot order.
    digit_sources : list of n str arrays, digit_source_index : list of n int64 arrays: each digit's provenance.
    image : int64 (P,) the image (row) of each object, in row order, digits before numbers.
    category : int64 (P,) class 0-9 or :data:`NUMBER_CLASS`.
    boxes : int64 (P, 4) ``x0, y0, x1, y1`` (exclusive ends), pixels.
    source : str (P,) digit source ('' for a number); source_index : int64 (P,) (-1 for a number).
    number : int64 (P,) the number slot of a canvas digit or number (-1 in sequences).
    label : str (P,) the number's digits for a number, the digit for a digit.
    """

    images: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    digits: list
    digit_sources: list
    digit_source_index: list
    image: np.ndarray
    category: np.ndarray
    boxes: np.ndarray
    source: np.ndarray
    source_index: np.ndarray
    number: np.ndarray
    label: np.ndarray


def shard_objects(kind: str, arrays: Mapping[str, np.ndarray], first_index: int) -> ShardObjects:
    """The :class:`ShardObjects` of one shard of ``kind`` (``sequences`` or ``canvases``), already checked against its contract."""
    images = arrays["images"]
    n = len(images)
    names = np.array([str(s) for s in arrays["source_names"]] + [""], dtype=str)
    if kind == "canvases":
        digit_labels, digit_boxes, numbered = arrays["digit_labels"], arrays["digit_boxes"], arrays["digit_number"]
        labels = np.array([" ".join(row[row != ""].tolist()) for row in arrays["number_labels"]], dtype=str).reshape(n)
    else:
        digit_labels, digit_boxes, numbered = arrays["labels"], arrays["boxes"], None
        labels = None
    active = digit_labels >= 0
    rows, slots = np.nonzero(active)
    values = digit_labels[rows, slots].astype(np.int64)
    sources = names[arrays["sources"][rows, slots].astype(np.int64)]
    source_index = arrays["source_index"][rows, slots].astype(np.int64)
    splits = np.cumsum(active.sum(1))[:-1]
    digits = np.split(values, splits)
    if labels is None:
        labels = np.array(["".join(map(str, d.tolist())) for d in digits], dtype=str).reshape(n)
    parts = {
        "image": [rows.astype(np.int64)], "category": [values], "boxes": [digit_boxes[rows, slots].astype(np.int64).reshape(-1, 4)],
        "source": [sources], "source_index": [source_index],
        "number": [numbered[rows, slots].astype(np.int64) if numbered is not None else np.full(len(rows), -1, np.int64)],
        "label": [values.astype(str)],
    }
    if kind == "canvases":
        present = arrays["number_labels"] != ""  # the number slots in use (canvas_contract.number_active; not imported: the sequences stage uses this module)
        n_rows, n_slots = np.nonzero(present)
        parts["image"].append(n_rows.astype(np.int64))
        parts["category"].append(np.full(len(n_rows), NUMBER_CLASS, np.int64))
        parts["boxes"].append(arrays["number_boxes"][n_rows, n_slots].astype(np.int64).reshape(-1, 4))
        parts["source"].append(np.full(len(n_rows), "", dtype=str))
        parts["source_index"].append(np.full(len(n_rows), -1, np.int64))
        parts["number"].append(n_slots.astype(np.int64))
        parts["label"].append(arrays["number_labels"][n_rows, n_slots].astype(str))
    merged = {key: np.concatenate(value) for key, value in parts.items()}
    order = np.argsort(merged["image"], kind="stable")  # per image: digits, then numbers
    merged = {key: value[order] for key, value in merged.items()}
    return ShardObjects(
        images=images,
        indices=np.arange(first_index, first_index + n, dtype=np.int64),
        labels=labels,
        digits=digits,
        digit_sources=np.split(sources, splits),
        digit_source_index=np.split(source_index, splits),
        **merged,
    )


def objects_per_image(objects: ShardObjects) -> np.ndarray:
    """int64 (n + 1,): where each image's objects start in the per-object arrays (and the end)."""
    return np.searchsorted(objects.image, np.arange(len(objects.images) + 1))
