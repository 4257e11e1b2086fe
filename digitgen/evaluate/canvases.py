"""The check of one split of a detection-canvas dataset: its contract, its provenance, its leaks, and how well its digits read.

For every shard: the format and value rules of :mod:`digitgen.canvas_contract`
(boxes inside the canvas, the IoU limit of ``info.json`` held between number
boxes, every digit box inside its number's box, labels and padding); every
digit box holds ink; provenance: each digit's label equals the label of the
source row its ``sources`` / ``source_index`` name (for ``real``, the MNIST
split of the same name), and the test split draws real MNIST test digits
only (any other source is a leak); the manifest and ``info.json`` agree with
the shards. The digits of the first ``evaluate_canvases.canvases_checked``
canvases are cut out by their boxes, scaled so that their longer side is
20 px (MNIST's digit box), centred by their centre of mass in a 28x28 cell
(:func:`digitgen.evaluate.crops.centre_crops`) and classified.
Shards are read one at a time: memory is a shard's.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from digitgen import canvas_contract, contract
from digitgen.constants import DIGIT_SIZE, SOURCE_NAMES
from digitgen.errors import InputError
from digitgen.evaluate.crops import centre_crops
from digitgen.evaluate.readings import Classify
from digitgen.io import read_npz
from digitgen.params.evaluate_canvases import EvaluateCanvasesParams

#: Violations kept as messages per split (all are counted).
MAX_MESSAGES = 20
#: Longest side of a digit scaled for the classifier (MNIST fits its digits in a 20x20 box).
CROP_SIDE = 20
#: Digit box heights (px) that split the accuracy by size: small < 16 <= medium < 24 <= large.
HEIGHT_BINS = (16, 24)


@dataclass
class CanvasSplitResult:
    """What :func:`check_canvas_split` found.

    Attributes
    ----------
    split : ``train`` or ``test``; metrics : JSON-ready counts and accuracies; messages : the first violations.
    labels, predicted : int64 (K,) intended and classified digits of the checked digits.
    preview : the first canvases: ``images`` uint8 (P, H, W), ``digit_boxes`` (P, K, 4), ``digit_labels`` (P, K),
        ``number_boxes`` (P, M, 4), ``predicted`` int64 (P, K) (-1 unclassified).
    """

    split: str
    metrics: dict
    messages: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    preview: dict[str, np.ndarray] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.count = 0
        self.entries: list[str] = []

    def add(self, message: str, count: int = 1) -> None:
        self.count += count
        if len(self.entries) < MAX_MESSAGES:
            self.entries.append(message if count == 1 else f"{message} ({count} cases)")

    def check(self, bad: np.ndarray, what: str, shard: str) -> None:
        count = int(np.count_nonzero(bad))
        if count:
            first = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
            self.add(f"{shard}: row {first}: {what}", count)


def digit_inputs(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """uint8 (K, 28, 28): each box of ``images[rows]`` scaled so its longer side is :data:`CROP_SIDE` px, centred as MNIST digits are."""
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    tops = np.zeros((len(boxes), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    sizes = np.zeros((len(boxes), 4), np.int64)
    for k, (row, (x0, y0, x1, y1)) in enumerate(zip(np.asarray(rows).tolist(), boxes.tolist())):
        width, height = x1 - x0, y1 - y0
        factor = CROP_SIDE / max(width, height)
        new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
        crop = Image.fromarray(np.ascontiguousarray(images[row, y0:y1, x0:x1])).resize((new_w, new_h), Image.Resampling.BILINEAR)
        tops[k, :new_h, :new_w] = np.asarray(crop)
        sizes[k] = (0, 0, new_w, new_h)
    return centre_crops(tops, sizes)


def boxes_hold_ink(images: np.ndarray, rows: np.ndarray, boxes: np.ndarray, block: int = 512) -> np.ndarray:
    """bool (K,): whether box ``k`` of ``images[rows[k]]`` holds a non-zero pixel (summed-area tables, ``block`` images at a time).

    ``boxes`` int (K, 4) ``x0, y0, x1, y1``; boxes outside the image are clipped to it.
    """
    n, height, width = images.shape
    boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
    x0, x1 = np.clip(boxes[:, 0], 0, width), np.clip(boxes[:, 2], 0, width)
    y0, y1 = np.clip(boxes[:, 1], 0, height), np.clip(boxes[:, 3], 0, height)
    rows = np.asarray(rows, np.int64)
    out = np.zeros(len(rows), bool)
    for start in range(0, n, block):
        mine = np.flatnonzero((rows >= start) & (rows < start + block))
        if not len(mine):
            continue
        table = np.zeros((min(block, n - start), height + 1, width + 1), np.int32)
        np.cumsum(np.cumsum(images[start : start + block] > 0, axis=1, dtype=np.int32), axis=2, out=table[:, 1:, 1:])
        r = rows[mine] - start
        total = table[r, y1[mine], x1[mine]] - table[r, y0[mine], x1[mine]] - table[r, y1[mine], x0[mine]] + table[r, y0[mine], x0[mine]]
        out[mine] = total > 0
    return out


def _manifest_problems(path: Path, expected: list[dict[str, np.ndarray]]) -> list[tuple[str, int]]:
    if not path.is_file():
        return [(f"{path.name}: missing", 1)]
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = (rows[0], rows[1:]) if rows else ([], [])
    columns = list(canvas_contract.MANIFEST_COLUMNS)
    if header != columns:
        return [(f"{path.name}: columns {header}, expected {columns}", 1)]
    count = sum(len(part["index"]) for part in expected)
    if len(rows) != count:
        return [(f"{path.name}: {len(rows)} rows, but the shards hold {count} canvases", 1)]
    if not count:
        return []
    if any(len(row) != len(columns) for row in rows):
        return [(f"{path.name}: a row without {len(columns)} fields", 1)]
    table = np.array(rows, dtype=str)
    wanted = np.stack([np.concatenate([part[column] for part in expected]).astype(str) for column in columns], axis=1)
    differs = (table != wanted).any(axis=1)
    if not differs.any():
        return []
    first = int(np.flatnonzero(differs)[0])
    return [(f"{path.name}: row {first} is {table[first].tolist()}, the shards say {wanted[first].tolist()}", int(differs.sum()))]


def check_canvas_split(
    split_dir: str | os.PathLike, split: str, pools: Mapping[str, np.ndarray], classify: Classify, params: EvaluateCanvasesParams
) -> CanvasSplitResult:
    """Check one split of a canvas dataset against its contract and classify its digits.

    Parameters
    ----------
    split_dir : ``outputs/canvases/<split>``.
    split : ``train`` or ``test``.
    pools : source name -> int (N,) or (N, 2) labels of the digits its ``source_index`` points into.
    classify : uint8 (K, 28, 28) centred digits -> int (K,) digits.
    params : the ``evaluate_canvases`` section.

    Returns
    -------
    CanvasSplitResult. ``metrics``: ``canvases``, ``shards``, ``numbers``, ``digits``, ``contract_errors``,
    ``leaks`` (test digits from another source than real test digits), ``largest_iou``, ``max_iou``,
    ``numbers_dropped``, ``checked_canvases``, ``checked_digits``, ``digit_accuracy``, ``number_accuracy``
    (every digit of the number read right), ``accuracy_by_height``, ``accuracy_per_source``.
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise FileNotFoundError(f"canvas split folder {str(split_dir)!r} does not exist; run `dvc repro canvases`.")
    shard_paths = sorted(split_dir.glob(contract.SHARD_GLOB))
    if not shard_paths:
        raise FileNotFoundError(f"{split_dir} holds no {contract.SHARD_GLOB} files; run `dvc repro canvases`.")
    problems = _Problems()
    info, found = contract.read_info(split_dir / "info.json")
    for message in found:
        problems.add(message)
    if info and info.get("kind") != canvas_contract.KIND:
        problems.add(f"info.json: kind == {info.get('kind')!r}, expected {canvas_contract.KIND!r}")
    max_iou = info.get("max_iou") if isinstance(info.get("max_iou"), int | float) else None
    shape = info.get("image_shape")

    total = numbers_total = digits_total = leaks = 0
    largest = 0.0
    manifest: list[dict[str, np.ndarray]] = []
    checked: list[tuple] = []
    preview: dict[str, list] = {"images": [], "digit_boxes": [], "digit_labels": [], "number_boxes": [], "predicted": []}
    for number, path in enumerate(shard_paths):
        if path.name != contract.shard_file(number):
            problems.add(f"{path.name}: shards must be numbered shard-00000.npz, ... without gaps (expected {contract.shard_file(number)})")
        try:
            arrays = read_npz(path, what="shard", remedy="re-run `dvc repro canvases` or `dvc checkout`")
            layout = canvas_contract.check_shard(arrays, path.name)
        except InputError as error:
            problems.add(str(error).rstrip("."))
            continue
        if shape is not None and [layout.height, layout.width] != list(shape):
            problems.add(f"{path.name}: canvases are {layout.height} x {layout.width}, info.json says {shape}")
        for key, value in (("max_numbers", layout.max_numbers), ("max_digits", layout.max_digits)):
            if info.get(key) is not None and info.get(key) != value:
                problems.add(f"{path.name}: {value} {key} slots, info.json says {info.get(key)}")
        for what, bad in canvas_contract.value_problems(arrays, layout, max_iou):
            problems.check(bad, what, path.name)
        largest = max(largest, canvas_contract.largest_iou(arrays))
        names = list(layout.source_names)
        if any(name not in SOURCE_NAMES for name in names) or len(set(names)) != len(names):
            problems.add(f"{path.name}: source_names {names} must be distinct names from {list(SOURCE_NAMES)}")
        digits = canvas_contract.digit_active(arrays)
        rows, slots = np.nonzero(digits)
        labels = arrays["digit_labels"][rows, slots].astype(np.int64)
        source = arrays["sources"][rows, slots].astype(np.int64)
        index = arrays["source_index"][rows, slots].astype(np.int64)
        boxes = arrays["digit_boxes"][rows, slots].astype(np.int64)
        valid_box = (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= layout.width) & (boxes[:, 3] <= layout.height) & (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
        ink = boxes_hold_ink(arrays["images"], rows, boxes) | ~valid_box
        if (~ink).any():
            problems.add(f"{path.name}: row {int(rows[~ink][0])}: digit box holds no ink", int((~ink).sum()))
        for code, name in enumerate(names):
            mine = source == code
            if not mine.any():
                continue
            if split == "test" and name != "real":
                leaks += int(mine.sum())
                problems.add(f"{path.name}: test digits from source {name!r}: the test split draws real MNIST test digits only", int(mine.sum()))
                continue
            if name not in pools:
                problems.add(f"{path.name}: source {name!r} is not available to check provenance (have {sorted(pools)})", int(mine.sum()))
                continue
            pool = np.asarray(pools[name])
            outside = mine & ((index < 0) | (index >= len(pool)))
            if outside.any():
                problems.add(f"{path.name}: row {int(rows[outside][0])}: source_index outside the {len(pool)} digits of {name!r}", int(outside.sum()))
            inside = mine & ~outside
            intended = pool[index[inside]]
            wrong = (labels[inside] != intended) if intended.ndim == 1 else ((labels[inside] != intended[:, 0]) & (labels[inside] != intended[:, 1]))
            if wrong.any():
                problems.add(f"{path.name}: row {int(rows[inside][wrong][0])}: digit label differs from {name!r}'s label at its source_index", int(wrong.sum()))
        manifest.append(canvas_contract.manifest_columns(arrays, path.name, total))
        take = ((total + rows) < params.canvases_checked) & valid_box
        predicted_all = np.full(len(rows), -1, np.int64)
        if take.any():
            predicted_all[take] = np.asarray(classify(digit_inputs(arrays["images"], rows[take], boxes[take])), np.int64)
            heights = boxes[take, 3] - boxes[take, 1]
            owner = arrays["digit_number"][rows[take], slots[take]].astype(np.int64)
            sources = np.array([names[s] if 0 <= s < len(names) else "?" for s in source[take].tolist()], dtype=object)
            checked.append((total + rows[take], owner, labels[take], predicted_all[take], heights, sources))
        wanted = max(0, min(layout.count, params.canvas_previews - total))
        if wanted:
            guess = np.full(arrays["digit_labels"].shape, -1, np.int64)
            guess[rows, slots] = predicted_all
            for key in ("images", "digit_boxes", "digit_labels", "number_boxes"):
                preview[key].append(arrays[key][:wanted])
            preview["predicted"].append(guess[:wanted])
        total += layout.count
        numbers_total += int(canvas_contract.number_active(arrays).sum())
        digits_total += len(rows)

    for message, count in _manifest_problems(split_dir / "manifest.csv", manifest):
        problems.add(message, count)
    for key, value in (("count", total), ("shards", len(shard_paths))):
        if info and info.get(key) is not None and info.get(key) != value:
            problems.add(f"info.json: {key} == {info.get(key)}, but the folder holds {value}")
    statistics = info.get("statistics") or {}
    metrics = {
        "canvases": total, "shards": len(shard_paths), "numbers": numbers_total, "digits": digits_total,
        "contract_errors": problems.count - leaks, "leaks": leaks, "largest_iou": largest,
        "max_iou": max_iou, "numbers_dropped": statistics.get("numbers_dropped"),
    }
    labels = predicted = np.zeros(0, np.int64)
    if checked:
        seq, owner, labels, predicted, heights, sources = (np.concatenate(part) for part in zip(*checked))
        right = labels == predicted
        keys = seq * 10_000 + owner
        unique, position = np.unique(keys, return_inverse=True)
        number_right = np.ones(len(unique), bool)
        np.logical_and.at(number_right, position, right)
        bins = np.digitize(heights, HEIGHT_BINS)
        names = (f"<{HEIGHT_BINS[0]}", f"{HEIGHT_BINS[0]}-{HEIGHT_BINS[1] - 1}", f">={HEIGHT_BINS[1]}")
        metrics.update({
            "checked_canvases": int(len(np.unique(seq))),
            "checked_digits": int(len(labels)),
            "digit_accuracy": float(right.mean()),
            "number_accuracy": float(number_right.mean()),
            "accuracy_by_height": {names[b]: float(right[bins == b].mean()) for b in range(3) if (bins == b).any()},
            "digits_by_height": {names[b]: int((bins == b).sum()) for b in range(3) if (bins == b).any()},
            "accuracy_per_source": {name: float(right[sources == name].mean()) for name in sorted(set(sources.tolist()))},
        })
    preview_arrays = {key: np.concatenate(parts) for key, parts in preview.items() if parts}
    return CanvasSplitResult(split, metrics, problems.entries, labels, predicted, preview_arrays)
