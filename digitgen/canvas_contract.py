"""The detection-canvas dataset contract, stated once: what a canvas split folder holds and what every shard must be.

A split folder ``<out>/<split>/`` holds ``shard-00000.npz``, ... (numbered
without gaps, as sequence splits are: :func:`digitgen.contract.shard_file`),
``manifest.csv`` (:data:`MANIFEST_COLUMNS`), ``info.json`` (``kind: canvases``
and :data:`INFO_FIELDS`), ``preview/`` and, when asked for, the exports
``coco/``, ``yolo/``, ``parquet/`` (:mod:`digitgen.exports`). Each shard holds
:data:`SHARD_ARRAYS` with agreeing dimensions (:func:`check_shard`); the
value rules (:func:`value_problems`) say that digits and numbers fill their
slots first and :data:`PAD` the rest, every digit belongs to a number that
exists and lies inside that number's box, every number has at least one
digit and its label is its digits, every box lies inside the canvas, and no
two numbers' boxes overlap by more than the split's ``max_iou``.

Used by the writer (:mod:`digitgen.canvas_shards`), the exports' reader
(:mod:`digitgen.exports.reader`) and the checker (:mod:`digitgen.evaluate.canvases`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from digitgen.canvas import box_iou, box_iou_ok
from digitgen.contract import ArraySpec, ContractError

#: Value of every padded slot.
PAD = -1
#: ``info.json`` ``kind`` of a canvas split (a sequence split's info.json has no ``kind``, or ``sequences``).
KIND = "canvases"
#: Columns of ``manifest.csv``, in order.
MANIFEST_COLUMNS = ("index", "shard", "row", "label", "numbers", "digits", "sources")
#: The ``info.json`` fields the checks rely on -> what they must equal.
INFO_FIELDS = {
    "kind": f"{KIND!r}",
    "count": "canvases in the split (the shards' rows summed)",
    "shards": "number of shard files",
    "image_shape": "[height, width] of every canvas",
    "max_numbers": "slots M of the per-number arrays",
    "max_digits": "slots K of the per-digit arrays",
    "max_iou": "the largest intersection over union two number boxes of one canvas may have",
}

SHARD_ARRAYS = (
    ArraySpec("images", np.dtype(np.uint8), ("n", "H", "W"), False, "0 = background, 255 = ink"),
    ArraySpec("digit_labels", np.dtype(np.int16), ("n", "K"), True, "each digit 0-9; a canvas's digits first, number by number"),
    ArraySpec("digit_boxes", np.dtype(np.int16), ("n", "K", 4), True, "each digit's box x0, y0, x1, y1 (exclusive ends)"),
    ArraySpec("digit_number", np.dtype(np.int16), ("n", "K"), True, "the number (slot of the per-number arrays) each digit belongs to"),
    ArraySpec("number_boxes", np.dtype(np.int16), ("n", "M", 4), True, "each number's box x0, y0, x1, y1 (exclusive ends)"),
    ArraySpec("number_labels", None, ("n", "M"), False, "each number's digits as a string ('' where padded)"),
    ArraySpec("sources", np.dtype(np.int8), ("n", "K"), True, "each digit's source, an index into source_names"),
    ArraySpec("source_index", np.dtype(np.int32), ("n", "K"), True, "each digit's row in its source"),
    ArraySpec("source_names", None, ("S",), False, "the digit sources used, e.g. ['real']"),
)
#: Every key of a canvas shard.
SHARD_KEYS = tuple(spec.key for spec in SHARD_ARRAYS)


@dataclass(frozen=True)
class CanvasShardLayout:
    """The sizes of one canvas shard that passed :func:`check_shard`."""

    count: int
    height: int
    width: int
    max_numbers: int
    max_digits: int
    source_names: tuple[str, ...]


def is_canvas_shard(keys) -> bool:
    """Whether a shard's keys are a canvas shard's (``digit_labels``) rather than a sequence shard's (``labels``)."""
    return "digit_labels" in keys


def check_shard(arrays: Mapping[str, np.ndarray], name: str) -> CanvasShardLayout:
    """Check that ``arrays`` hold every key with its dtype, dimensions and agreeing sizes.

    Raises
    ------
    digitgen.contract.ContractError
        Naming the shard, the key and what was expected.
    """
    missing = [key for key in SHARD_KEYS if key not in arrays]
    if missing:
        raise ContractError(f"{name}: missing array(s) {missing}")
    for spec in SHARD_ARRAYS:
        array = arrays[spec.key]
        if spec.dtype is None:
            if array.dtype.kind != "U" or array.ndim != len(spec.dims):
                raise ContractError(f"{name}: {spec.key} must be a string array with {len(spec.dims)} dimension(s), got {array.dtype} {array.shape}")
        elif array.dtype != spec.dtype or array.ndim != len(spec.dims):
            raise ContractError(f"{name}: {spec.key} must be {spec.dtype} with {len(spec.dims)} dimensions, got {array.dtype} {array.shape}")
    images = arrays["images"]
    sizes = {
        "n": images.shape[0], "H": images.shape[1], "W": images.shape[2],
        "K": arrays["digit_labels"].shape[1], "M": arrays["number_boxes"].shape[1], "S": len(arrays["source_names"]),
    }
    for spec in SHARD_ARRAYS:
        expected = tuple(sizes[d] if isinstance(d, str) else d for d in spec.dims)
        if arrays[spec.key].shape != expected:
            raise ContractError(f"{name}: {spec.key} has shape {arrays[spec.key].shape}, expected {expected}")
    if sizes["M"] < 1 or sizes["K"] < 1:
        raise ContractError(f"{name}: {sizes['M']} number slots and {sizes['K']} digit slots, expected at least 1 of each")
    return CanvasShardLayout(sizes["n"], sizes["H"], sizes["W"], sizes["M"], sizes["K"], tuple(str(s) for s in arrays["source_names"]))


def _inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    boxes = np.asarray(boxes, np.int64)
    x0, y0, x1, y1 = (boxes[..., i] for i in range(4))
    return (x0 >= 0) & (y0 >= 0) & (x1 <= width) & (y1 <= height) & (x0 < x1) & (y0 < y1)


def _prefix_broken(active: np.ndarray) -> np.ndarray:
    """bool (n,): rows whose active slots are not all before the padded ones."""
    return (active[:, 1:] & ~active[:, :-1]).any(1)


def number_active(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """bool (n, M): the number slots holding a number (a non-empty label)."""
    return arrays["number_labels"] != ""


def digit_active(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """bool (n, K): the digit slots holding a digit (label >= 0)."""
    return arrays["digit_labels"] >= 0


def value_problems(arrays: Mapping[str, np.ndarray], layout: CanvasShardLayout, max_iou: float | None) -> list[tuple[str, np.ndarray]]:
    """The value rules of a shard that passed :func:`check_shard`, as ``(rule broken, where)`` pairs.

    ``where`` is a bool array indexed by canvas row first; a rule is broken where it is True.
    ``max_iou`` None skips the overlap rule (when ``info.json`` does not give it). Every rule is
    returned, with all-False masks too.
    """
    n, m = layout.count, layout.max_numbers
    numbers, digits = number_active(arrays), digit_active(arrays)
    labels, owner = arrays["digit_labels"].astype(np.int64), arrays["digit_number"].astype(np.int64)
    found = [
        ("numbers not first in their slots ('' only after the last number)", _prefix_broken(numbers)),
        ("digits not first in their slots (-1 only after the last digit)", _prefix_broken(digits)),
        ("canvas without a number", ~numbers.any(1) if m else np.ones(n, bool)),
        ("digit label outside 0..9", digits & (labels > 9)),
    ]
    for key in ("digit_labels", "digit_number", "sources", "source_index"):
        found.append((f"{key} not -1 after the last digit", ~digits & (arrays[key] != PAD)))
    found.append(("digit_boxes not -1 after the last digit", ~digits[..., None] & (arrays["digit_boxes"] != PAD)))
    found.append(("number_boxes not -1 after the last number", ~numbers[..., None] & (arrays["number_boxes"] != PAD)))
    found.append(("sources outside source_names", digits & ((arrays["sources"] < 0) | (arrays["sources"] >= len(layout.source_names)))))
    found.append(("source_index negative", digits & (arrays["source_index"] < 0)))
    found.append(("digit box outside the canvas or empty", digits & ~_inside(arrays["digit_boxes"], layout.width, layout.height)))
    found.append(("number box outside the canvas or empty", numbers & ~_inside(arrays["number_boxes"], layout.width, layout.height)))
    count = numbers.sum(1)
    bad_owner = digits & ((owner < 0) | (owner >= count[:, None]))
    found.append(("digit_number names no number of its canvas", bad_owner))
    safe = np.clip(owner, 0, m - 1)
    theirs = np.take_along_axis(arrays["number_boxes"].astype(np.int64), safe[..., None], 1)
    boxes = arrays["digit_boxes"].astype(np.int64)
    outside = (boxes[..., 0] < theirs[..., 0]) | (boxes[..., 1] < theirs[..., 1]) | (boxes[..., 2] > theirs[..., 2]) | (boxes[..., 3] > theirs[..., 3])
    found.append(("digit box not inside its number's box", digits & ~bad_owner & outside))
    descending = digits[:, 1:] & digits[:, :-1] & (owner[:, 1:] < owner[:, :-1])
    found.append(("digits not in number order", descending))
    expected = number_labels_of(labels, owner, digits, m)
    found.append(("number label differs from its digits", numbers & (arrays["number_labels"] != expected)))
    found.append(("number without a digit", numbers & (expected == "")))
    if max_iou is not None and m > 1:
        pair = numbers[:, :, None] & numbers[:, None, :] & ~np.eye(m, dtype=bool)[None]
        ok = box_iou_ok(arrays["number_boxes"][:, :, None, :], arrays["number_boxes"][:, None, :, :], max_iou)
        found.append((f"two number boxes overlap by more than max_iou {max_iou:g}", (pair & ~ok).any(2)))
    return found


def number_labels_of(labels: np.ndarray, owner: np.ndarray, digits: np.ndarray, max_numbers: int) -> np.ndarray:
    """str (n, M): each number's digits joined in slot order, from per-digit labels and owners ('' for no digit)."""
    n, k = labels.shape
    chars = np.where(digits, labels + ord("0"), 0).astype(np.uint8)
    out = np.zeros((n, max_numbers, k), np.uint8)
    if n and k:
        mask = digits[:, None, :] & (owner[:, None, :] == np.arange(max_numbers)[None, :, None])
        # the digits of number j, moved to the front of row j (stable: slot order kept)
        order = np.argsort(~mask, axis=2, kind="stable")
        picked = np.take_along_axis(np.where(mask, chars[:, None, :], 0), order, 2)
        out = picked.astype(np.uint8)
    return np.ascontiguousarray(out).view(f"S{k}").reshape(n, max_numbers).astype(str) if k else np.full((n, max_numbers), "")


def largest_iou(arrays: Mapping[str, np.ndarray]) -> float:
    """The largest intersection over union between two number boxes of one canvas (0 with one number per canvas)."""
    numbers = number_active(arrays)
    m = numbers.shape[1]
    if m < 2 or not len(numbers):
        return 0.0
    pair = numbers[:, :, None] & numbers[:, None, :] & ~np.eye(m, dtype=bool)[None]
    iou = box_iou(arrays["number_boxes"][:, :, None, :], arrays["number_boxes"][:, None, :, :])
    return float(np.where(pair, iou, 0).max())


def manifest_columns(arrays: Mapping[str, np.ndarray], shard_name: str, first_index: int) -> dict[str, np.ndarray]:
    """The manifest rows of one canvas shard, column by column as strings (:data:`MANIFEST_COLUMNS`).

    ``label`` is the numbers joined by a space (``42 7 315``), ``sources`` the digits' source names joined by ``|``.
    """
    numbers, digits = number_active(arrays), digit_active(arrays)
    n = len(numbers)
    names = [str(s) for s in arrays["source_names"]]
    labels = [" ".join(row[row != ""].tolist()) for row in arrays["number_labels"]]
    codes = np.where(digits, arrays["sources"].astype(np.int64) + 1, 0)
    unique, inverse = np.unique(codes, axis=0, return_inverse=True) if n else (np.zeros((0, codes.shape[1]), np.int64), np.zeros(0, np.int64))
    texts = ["|".join(names[c - 1] if 0 < c <= len(names) else "?" for c in row if c) for row in unique.tolist()]
    return {
        "index": np.arange(first_index, first_index + n).astype(str),
        "shard": np.full(n, shard_name),
        "row": np.arange(n).astype(str),
        "label": np.array(labels, dtype=str).reshape(n),
        "numbers": numbers.sum(1).astype(str),
        "digits": digits.sum(1).astype(str),
        "sources": np.array(texts, dtype=str)[inverse.reshape(-1)] if n else np.zeros(0, str),
    }
